"""Recipients of distributed tenders.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tender_recipient",
        sa.Column("tender_pk", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tender_pk"], ["tender.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tender_pk", "party_id"),
    )
    op.create_index("ix_tender_recipient_party", "tender_recipient", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_tender_recipient_party", table_name="tender_recipient")
    op.drop_table("tender_recipient")
