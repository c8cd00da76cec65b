"""Quotes (EiQuote) and published trade prices.

quote: one row per ei:eiQuote, addressed to one party (subscriber_id) or to a market
context's parties through a distribution (0012), never a row per (quote, recipient).
trade_price: per market context, product kind, interface, delivery interval and currency, the
last traded price and the running sums (energy, price x energy) of the transactions and
exercises made from this revision on (earlier ones are not published).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

STANDING = "cancelled_at is null"


def upgrade() -> None:
    op.create_table(
        "quote",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("quote_id", sa.Text(), nullable=False),
        sa.Column("subscriber_id", sa.Text(), nullable=True),
        sa.Column("distribution_pk", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product_xml", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["party.party_id"]),
        sa.ForeignKeyConstraint(["distribution_pk"], ["distribution.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party_id", "quote_id", name="uq_quote_party_quote_id"),
        sa.CheckConstraint("start_at < end_at", name="ck_quote_interval"),
        sa.CheckConstraint("(subscriber_id is null) <> (distribution_pk is null)", name="ck_quote_addressee"),
    )
    op.create_index("ix_quote_party_start", "quote", ["party_id", "start_at", "id"])
    op.create_index(
        "ix_quote_subscriber_standing", "quote", ["subscriber_id", "party_id", "start_at", "id"],
        postgresql_where=sa.text(STANDING),
    )
    op.create_index(
        "ix_quote_distribution_standing", "quote", ["distribution_pk", "start_at", "id"],
        postgresql_where=sa.text(STANDING),
    )
    op.create_table(
        "trade_price",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("product_kind", sa.Text(), nullable=False),
        sa.Column("receipt_node", sa.Text(), nullable=False),
        sa.Column("delivery_node", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("last_price_per_kwh", sa.Numeric(), nullable=False),
        sa.Column("energy_kwh", sa.Numeric(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("trades", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "market_context", "product_kind", "receipt_node", "delivery_node", "start_at", "end_at", "currency",
            name="uq_trade_price_key",
        ),
    )
    op.create_index("ix_trade_price_market_start", "trade_price", ["market_context", "start_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_trade_price_market_start", table_name="trade_price")
    op.drop_table("trade_price")
    op.drop_index("ix_quote_distribution_standing", table_name="quote")
    op.drop_index("ix_quote_subscriber_standing", table_name="quote")
    op.drop_index("ix_quote_party_start", table_name="quote")
    op.drop_table("quote")
