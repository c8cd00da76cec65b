"""Market contexts: time zone, currency and energy unit per market context URI.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_context",
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("energy_unit", sa.Text(), server_default=sa.text("'kWh'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("market_context"),
    )


def downgrade() -> None:
    op.drop_table("market_context")
