"""Distributions: the recipients of an EiDistributeTender are kept once per distribution, not
once per tender.

tender_recipient held a row per (tender, recipient): a request of T tenders to a market of R
parties wrote T x R rows (24 hourly tenders to 10,000 customers: 240,000). A distribution
now holds its R recipients once, and each of its tenders names it (tender.distribution_pk):
T + R rows. Existing recipients move over, one distribution per distributed tender.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STANDING = "cancelled_at is null and remaining_kw > 0"


def upgrade() -> None:
    op.create_table(
        "distribution",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "distribution_recipient",
        sa.Column("distribution_pk", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["distribution_pk"], ["distribution.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("distribution_pk", "party_id"),
    )
    op.create_index("ix_distribution_recipient_party", "distribution_recipient", ["party_id"])
    op.add_column("tender", sa.Column("distribution_pk", sa.BigInteger(), nullable=True))
    op.create_foreign_key("tender_distribution_pk_fkey", "tender", "distribution", ["distribution_pk"], ["id"])
    # one distribution per tender distributed so far, numbered as the tender
    op.execute(
        "INSERT INTO distribution (id, party_id, request_id, created_at)"
        " SELECT t.id, t.party_id, t.request_id, t.created_at FROM tender t"
        " WHERE EXISTS (SELECT 1 FROM tender_recipient r WHERE r.tender_pk = t.id)"
    )
    op.execute("SELECT setval(pg_get_serial_sequence('distribution', 'id'), COALESCE(max(id), 0) + 1, false) FROM distribution")
    op.execute("UPDATE tender SET distribution_pk = id WHERE id IN (SELECT id FROM distribution)")
    op.execute("INSERT INTO distribution_recipient (distribution_pk, party_id) SELECT tender_pk, party_id FROM tender_recipient")
    # the standing tenders of the distributions a party received, in list order
    op.create_index(
        "ix_tender_distribution_standing",
        "tender",
        ["distribution_pk", "start_at", "id"],
        postgresql_where=sa.text(STANDING),
    )
    op.drop_index("ix_tender_recipient_party", table_name="tender_recipient")
    op.drop_table("tender_recipient")


def downgrade() -> None:
    op.create_table(
        "tender_recipient",
        sa.Column("tender_pk", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tender_pk"], ["tender.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tender_pk", "party_id"),
    )
    op.create_index("ix_tender_recipient_party", "tender_recipient", ["party_id"])
    op.execute(
        "INSERT INTO tender_recipient (tender_pk, party_id) SELECT t.id, r.party_id"
        " FROM tender t JOIN distribution_recipient r ON r.distribution_pk = t.distribution_pk"
    )
    op.drop_index("ix_tender_distribution_standing", table_name="tender")
    op.drop_constraint("tender_distribution_pk_fkey", "tender", type_="foreignkey")
    op.drop_column("tender", "distribution_pk")
    op.drop_index("ix_distribution_recipient_party", table_name="distribution_recipient")
    op.drop_table("distribution_recipient")
    op.drop_table("distribution")
