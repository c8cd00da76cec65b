"""Read-path indexes found by the bench's EXPLAIN at 10^6 rows.

* position_change: the opening sum of a position window reads every earlier change point of
  the key; covering rate_kw and value_rate lets it be an index-only scan.
* tender (counterparty_id, tender_id): the refused-cancel path asks whether another party's
  tender with that ID is addressed to the caller.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEY = ["party_id", "market_context", "product_kind", "receipt_node", "delivery_node", "at"]


def upgrade() -> None:
    op.create_index(
        "ix_position_change_key_at_covering", "position_change", KEY, postgresql_include=["rate_kw", "value_rate"]
    )
    op.create_index("ix_tender_counterparty_tender_id", "tender", ["counterparty_id", "tender_id"])


def downgrade() -> None:
    op.drop_index("ix_tender_counterparty_tender_id", table_name="tender")
    op.drop_index("ix_position_change_key_at_covering", table_name="position_change")
