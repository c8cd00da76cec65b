"""Roles and registrations: parties get roles (a registrar registers others over SOAP), and
each EiCreatePartyRegistration is kept with the memberships it added, so cancelling it takes
out exactly those.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_role",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("party_id", "role"),
    )
    op.create_index("ix_party_role_role", "party_role", ["role"])
    op.create_table(
        "registration",
        sa.Column("registration_id", sa.Text(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("registrar_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["registrar_id"], ["party.party_id"]),
        sa.PrimaryKeyConstraint("registration_id"),
    )
    op.create_index("ix_registration_party_created", "registration", ["party_id", "created_at"])
    op.create_table(
        "registration_membership",
        sa.Column("registration_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind in ('market_context', 'group', 'service_area', 'role')", name="ck_registration_membership_kind"
        ),
        sa.ForeignKeyConstraint(["registration_id"], ["registration.registration_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("registration_id", "kind", "name"),
    )


def downgrade() -> None:
    op.drop_table("registration_membership")
    op.drop_index("ix_registration_party_created", table_name="registration")
    op.drop_table("registration")
    op.drop_index("ix_party_role_role", table_name="party_role")
    op.drop_table("party_role")
