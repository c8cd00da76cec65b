"""Exchanges: a market context may run one (market_context.exchange), and the standing orders
addressed to it form order books, read best first from one index.

The book index holds only the tenders addressed to an exchange (its party ID is the market
context's URI and '#exchange') that are standing and actionable, keyed by the book (market
context, delivery node, interval, side) and then price and arrival (id): sells are read
forwards, buys backwards by price (arrival first within a price). Matching reads the crossing orders from
its head; an order that does not cross reads nothing more.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BOOK = (
    "cancelled_at is null and remaining_kw > 0 and transactive_state = 'tender'"
    " and counterparty_id = (market_context || '#exchange')"
)


def upgrade() -> None:
    op.add_column(
        "market_context", sa.Column("exchange", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_index(
        "ix_tender_book",
        "tender",
        [
            "market_context",
            "delivery_node",
            "start_at",
            "end_at",
            "side",
            "price_per_kwh",
            "id",
        ],
        postgresql_where=sa.text(BOOK),
    )


def downgrade() -> None:
    op.drop_index("ix_tender_book", table_name="tender")
    op.drop_column("market_context", "exchange")
