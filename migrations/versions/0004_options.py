"""Options: option terms on tenders and transactions, exercises, market exercise rules.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPTION_COLUMNS = ("option_type", "holder_side", "strike_per_kwh")


def _option_columns():
    return [
        sa.Column("option_type", sa.Text(), nullable=True),
        sa.Column("holder_side", sa.String(length=4), nullable=True),
        sa.Column("strike_per_kwh", sa.Numeric(), nullable=True),
    ]


def upgrade() -> None:
    for table in ("tender", "transaction"):
        for column in _option_columns():
            op.add_column(table, column)
    op.add_column("transaction", sa.Column("option_transaction_pk", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "transaction_option_transaction_pk_fkey", "transaction", "transaction", ["option_transaction_pk"], ["id"]
    )
    op.create_index(
        "ix_transaction_option_transaction_pk",
        "transaction",
        ["option_transaction_pk"],
        postgresql_where=sa.text("option_transaction_pk is not null"),
    )
    op.add_column(
        "market_context",
        sa.Column("option_lead_time", sa.Text(), server_default=sa.text("'PT1H'"), nullable=False),
    )
    op.add_column(
        "market_context",
        sa.Column("option_granularity", sa.Text(), server_default=sa.text("'PT1H'"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("market_context", "option_granularity")
    op.drop_column("market_context", "option_lead_time")
    op.drop_index("ix_transaction_option_transaction_pk", table_name="transaction")
    op.drop_constraint("transaction_option_transaction_pk_fkey", "transaction", type_="foreignkey")
    op.drop_column("transaction", "option_transaction_pk")
    for table in ("transaction", "tender"):
        for name in OPTION_COLUMNS:
            op.drop_column(table, name)
