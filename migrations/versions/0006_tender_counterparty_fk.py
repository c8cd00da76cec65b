"""A tender's counterparty must be a registered party (the check the service relies on).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_foreign_key("tender_counterparty_id_fkey", "tender", "party", ["counterparty_id"], ["party_id"])


def downgrade() -> None:
    op.drop_constraint("tender_counterparty_id_fkey", "tender", type_="foreignkey")
