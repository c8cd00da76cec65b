"""Initial schema: parties, request log, nonces, tenders, transactions, positions.

Mirrors service/store/tables.py as of this revision (tests/integration/test_migrations.py
checks that they agree).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")
STANDING = sa.text("cancelled_at is null and remaining_kw > 0")


def upgrade() -> None:
    op.create_table(
        "party",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("digest_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("party_id"),
    )
    op.create_table(
        "party_market_context",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("party_id", "market_context"),
    )
    op.create_index(
        "ix_party_market_context_market_context", "party_market_context", ["market_context"]
    )
    op.create_table(
        "party_group",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("party_id", "group_name"),
    )
    op.create_index("ix_party_group_group_name", "party_group", ["group_name"])

    op.create_table(
        "request_log",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("body_digest", sa.LargeBinary(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("party_id", "request_id"),
    )
    op.create_table(
        "used_nonce",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "nonce"),
    )
    op.create_index("ix_used_nonce_created_at", "used_nonce", ["created_at"])

    op.create_table(
        "tender",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("tender_id", sa.Text(), nullable=False),
        sa.Column("counterparty_id", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("transactive_state", sa.Text(), nullable=False),
        sa.Column("product_kind", sa.Text(), nullable=False),
        sa.Column("receipt_node", sa.Text(), nullable=True),
        sa.Column("delivery_node", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(), nullable=False),
        sa.Column("quantity_kw", sa.Numeric(), nullable=False),
        sa.Column("remaining_kw", sa.Numeric(), nullable=False),
        sa.Column("rate_scale", sa.Text(), nullable=False),
        sa.Column("integral_only", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product_xml", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("side in ('buy', 'sell')", name="ck_tender_side"),
        sa.CheckConstraint(
            "remaining_kw >= 0 and remaining_kw <= quantity_kw", name="ck_tender_remaining"
        ),
        sa.CheckConstraint("start_at < end_at", name="ck_tender_interval"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party_id", "tender_id", name="uq_tender_party_tender_id"),
    )
    op.create_index(
        "ix_tender_counterparty_standing",
        "tender",
        ["counterparty_id", "start_at"],
        postgresql_where=STANDING,
    )
    op.create_index(
        "ix_tender_party_standing", "tender", ["party_id", "start_at"], postgresql_where=STANDING
    )

    op.create_table(
        "transaction",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("tender_pk", sa.BigInteger(), nullable=False),
        sa.Column("counterparty_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("product_kind", sa.Text(), nullable=False),
        sa.Column("receipt_node", sa.Text(), nullable=True),
        sa.Column("delivery_node", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(), nullable=False),
        sa.Column("quantity_kw", sa.Numeric(), nullable=False),
        sa.Column("rate_scale", sa.Text(), nullable=False),
        sa.Column("product_xml", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("side in ('buy', 'sell')", name="ck_transaction_side"),
        sa.CheckConstraint("quantity_kw > 0", name="ck_transaction_quantity"),
        sa.ForeignKeyConstraint(["party_id"], ["party.party_id"]),
        sa.ForeignKeyConstraint(["counterparty_id"], ["party.party_id"]),
        sa.ForeignKeyConstraint(["tender_pk"], ["tender.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "party_id", "transaction_id", name="uq_transaction_party_transaction_id"
        ),
    )
    op.create_index("ix_transaction_party_start", "transaction", ["party_id", "start_at"])
    op.create_index(
        "ix_transaction_counterparty_start", "transaction", ["counterparty_id", "start_at"]
    )

    op.create_table(
        "position_change",
        sa.Column("party_id", sa.Text(), nullable=False),
        sa.Column("market_context", sa.Text(), nullable=False),
        sa.Column("product_kind", sa.Text(), nullable=False),
        sa.Column("receipt_node", sa.Text(), nullable=False),
        sa.Column("delivery_node", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_kw", sa.Numeric(), nullable=False),
        sa.Column("value_rate", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint(
            "party_id", "market_context", "product_kind", "receipt_node", "delivery_node", "at"
        ),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; children before parents.
    for table in (
        "position_change",
        "transaction",
        "tender",
        "used_nonce",
        "request_log",
        "party_group",
        "party_market_context",
        "party",
    ):
        op.drop_table(table)
