"""Service areas: the named areas (grid region, postal zone, ...) a party is placed in.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_service_area",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("service_area", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("party_id", "service_area"),
    )
    op.create_index("ix_party_service_area_service_area", "party_service_area", ["service_area"])


def downgrade() -> None:
    op.drop_index("ix_party_service_area_service_area", table_name="party_service_area")
    op.drop_table("party_service_area")
