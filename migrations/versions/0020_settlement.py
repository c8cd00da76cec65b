"""Settlement: a market context's balancing party and price grace, and one settlement row per
imbalance transaction (what it settled, at which price from where).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("market_context", sa.Column("balancing_party_id", sa.Text(), sa.ForeignKey("party.party_id")))
    op.add_column(
        "market_context", sa.Column("price_grace", sa.Text(), server_default=sa.text("'PT0S'"), nullable=False)
    )
    op.create_table(
        "settlement",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("party_id", sa.Text(), sa.ForeignKey("party.party_id"), nullable=False),
        sa.Column("balancing_party_id", sa.Text(), sa.ForeignKey("party.party_id"), nullable=False),
        sa.Column("delivery_node", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_kwh", sa.Numeric(), nullable=False),
        sa.Column("position_kwh", sa.Numeric(), nullable=False),
        sa.Column("imbalance_kwh", sa.Numeric(), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("price_source", sa.Text(), nullable=False),
        sa.Column("transaction_pk", sa.BigInteger(), sa.ForeignKey("transaction.id"), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("imbalance_kwh <> 0", name="ck_settlement_imbalance"),
        sa.CheckConstraint("start_at < end_at", name="ck_settlement_interval"),
    )
    op.create_index("ix_settlement_market_start", "settlement", ["market_context", "start_at"])
    op.create_index("ix_settlement_party_start", "settlement", ["party_id", "start_at"])
    op.create_index("ix_settlement_transaction", "settlement", ["transaction_pk"], unique=True)


def downgrade() -> None:
    op.drop_table("settlement")
    op.drop_column("market_context", "price_grace")
    op.drop_column("market_context", "balancing_party_id")
