"""Indexes that keep EiRequestTender and EiRequestTransaction flat with the database size.

* Delivery intervals as ranges (GiST, with btree_gist for the party column): an interval
  filter reads the tenders or transactions that overlap the window, not the party's whole
  history before it (a (party, start_at) btree bounds only one end of the interval).
* (party, start_at, id) btrees in the order the lists are returned: each branch of a list
  reads its first n rows and stops.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STANDING = "cancelled_at is null and remaining_kw > 0"
DURING = "tstzrange(start_at, end_at)"


def upgrade() -> None:
    # trusted since PostgreSQL 13: a database owner may create it without superuser
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for side in ("party_id", "counterparty_id"):
        op.drop_index(f"ix_tender_{_short(side)}_standing", table_name="tender")
        op.create_index(
            f"ix_tender_{_short(side)}_standing", "tender", [side, "start_at", "id"], postgresql_where=STANDING
        )
        op.execute(
            f"CREATE INDEX ix_tender_{_short(side)}_standing_during ON tender "
            f"USING gist ({side}, {DURING}) WHERE {STANDING}"
        )
        op.drop_index(f"ix_transaction_{_short(side)}_start", table_name="transaction")
        op.create_index(f"ix_transaction_{_short(side)}_start", "transaction", [side, "start_at", "id"])
        op.execute(
            f"CREATE INDEX ix_transaction_{_short(side)}_during ON transaction USING gist ({side}, {DURING})"
        )


def downgrade() -> None:
    for side in ("party_id", "counterparty_id"):
        op.drop_index(f"ix_transaction_{_short(side)}_during", table_name="transaction")
        op.drop_index(f"ix_transaction_{_short(side)}_start", table_name="transaction")
        op.create_index(f"ix_transaction_{_short(side)}_start", "transaction", [side, "start_at"])
        op.drop_index(f"ix_tender_{_short(side)}_standing_during", table_name="tender")
        op.drop_index(f"ix_tender_{_short(side)}_standing", table_name="tender")
        op.create_index(
            f"ix_tender_{_short(side)}_standing", "tender", [side, "start_at"], postgresql_where=STANDING
        )
    # btree_gist stays: dropping it could break an index someone else built on it


def _short(side: str) -> str:
    return side.removesuffix("_id")
