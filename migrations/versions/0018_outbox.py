"""Push: a party's callback URL (party.callback_url), and the outbox of EiCreateTransaction
messages to send there, written in the database transaction of each fill and delivered by
the push worker in id order per party.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("party", sa.Column("callback_url", sa.Text(), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("party_id", sa.Text(), sa.ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("party_id", "request_id", name="uq_outbox_party_request_id"),
    )
    op.create_index(
        "ix_outbox_undelivered", "outbox", ["party_id", "id"], postgresql_where=sa.text("delivered_at is null")
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_undelivered", table_name="outbox")
    op.drop_table("outbox")
    op.drop_column("party", "callback_url")
