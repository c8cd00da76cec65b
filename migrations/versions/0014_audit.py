"""The audit trail: an append-only table of state changes.

One row per change, written in the database transaction of the change. A trigger refuses
every UPDATE, DELETE and TRUNCATE of the table (statement-level: even one that would touch
no row), so the service, a `temix` command or a stray script cannot rewrite history; the
table's owner can still disable the trigger, which is the DBA's break-glass (README, "Audit
trail").

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

REFUSE = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING HINT = 'the audit trail is never changed or removed (README, "Audit trail")';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=True),
        sa.Column("counterparty_id", sa.Text(), nullable=True),
        sa.Column("tender_id", sa.Text(), nullable=True),
        sa.Column("transaction_id", sa.Text(), nullable=True),
        sa.Column("details", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_party", "audit_event", ["party_id", "at"])
    op.create_index(
        "ix_audit_event_counterparty", "audit_event", ["counterparty_id", "at"],
        postgresql_where=sa.text("counterparty_id is not null"),
    )
    op.create_index(
        "ix_audit_event_tender", "audit_event", ["tender_id"], postgresql_where=sa.text("tender_id is not null")
    )
    op.execute(REFUSE)
    op.execute(
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_event"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def downgrade() -> None:
    op.drop_table("audit_event")  # drops its trigger
    op.execute("DROP FUNCTION audit_event_append_only()")
