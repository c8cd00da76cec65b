"""Metered delivery: a market context's settlement interval, meter readings (one value per
party, market context, interface, interval and direction) and the history of their
corrections.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KEY = ["party_id", "market_context", "interface", "interval_start", "injection"]


def upgrade() -> None:
    op.add_column(
        "market_context",
        sa.Column("settlement_interval", sa.Text(), server_default=sa.text("'PT1H'"), nullable=False),
    )
    op.create_table(
        "meter_reading",
        sa.Column("party_id", sa.Text(), sa.ForeignKey("party.party_id"), nullable=False),
        sa.Column("market_context", sa.Text(), sa.ForeignKey("market_context.market_context"), nullable=False),
        sa.Column("interface", sa.Text(), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("injection", sa.Boolean(), nullable=False),
        sa.Column("energy_kwh", sa.Numeric(), nullable=False),
        sa.Column("reported_by", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="meter_reading_pkey"),
        sa.CheckConstraint("energy_kwh >= 0", name="ck_meter_reading_energy"),
        sa.CheckConstraint("interval_end > interval_start", name="ck_meter_reading_interval"),
    )
    op.create_index("ix_meter_reading_market_start", "meter_reading", ["market_context", "interval_start"])
    op.create_table(
        "meter_reading_history",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("interface", sa.Text(), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("injection", sa.Boolean(), nullable=False),
        sa.Column("old_kwh", sa.Numeric(), nullable=False),
        sa.Column("new_kwh", sa.Numeric(), nullable=False),
        sa.Column("reported_by", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
    )
    op.create_index("ix_meter_reading_history_key", "meter_reading_history", KEY)


def downgrade() -> None:
    op.drop_table("meter_reading_history")
    op.drop_table("meter_reading")
    op.drop_column("market_context", "settlement_interval")
