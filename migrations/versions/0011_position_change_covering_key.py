"""position_change: the primary key covers rate_kw and value_rate; the separate covering
index with the same key columns (0007) goes.

Every acceptance adds or updates up to four change points, and each write went into two
btrees with the same six key columns. One index now serves the upserts' conflict check and
the position windows' index-only scans. In-process (bench/inproc.py, interleaved runs)
PostgreSQL's CPU per acceptance fell ~5 %; at 10^6 the table loses an index of ~4 M rows.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KEY = ["party_id", "market_context", "product_kind", "receipt_node", "delivery_node", "at"]
COVERED = ["rate_kw", "value_rate"]


def _primary_key(include: list[str]) -> None:
    """Rebuilt in one statement (alembic's create_primary_key takes no INCLUDE)."""
    covered = f" INCLUDE ({', '.join(include)})" if include else ""
    op.execute(
        "ALTER TABLE position_change DROP CONSTRAINT position_change_pkey,"
        f" ADD CONSTRAINT position_change_pkey PRIMARY KEY ({', '.join(KEY)}){covered}"
    )


def upgrade() -> None:
    _primary_key(COVERED)
    op.drop_index("ix_position_change_key_at_covering", table_name="position_change")


def downgrade() -> None:
    op.create_index("ix_position_change_key_at_covering", "position_change", KEY, postgresql_include=COVERED)
    _primary_key([])
