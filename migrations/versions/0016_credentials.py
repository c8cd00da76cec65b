"""Credentials: client certificates bound to parties, disabled parties, and whether a party
bound to a certificate must still send a WS-Security UsernameToken.

party_certificate binds the SHA-256 fingerprint of a client certificate's DER encoding to
one party (a certificate acts for that party alone). party.disabled_at set: the party
authenticates nowhere. party.require_wssecurity false: a request over a verified client
certificate bound to the party needs no UsernameToken.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("party", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "party", sa.Column("require_wssecurity", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )
    op.create_table(
        "party_certificate",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("fingerprint ~ '^[0-9a-f]{64}$'", name="party_certificate_fingerprint_hex"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_index("ix_party_certificate_party", "party_certificate", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_party_certificate_party", table_name="party_certificate")
    op.drop_table("party_certificate")
    op.drop_column("party", "require_wssecurity")
    op.drop_column("party", "disabled_at")
