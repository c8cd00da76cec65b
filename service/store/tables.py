"""SQLAlchemy Core tables. The schema changes only through Alembic (migrations/).

Money, rates and quantities are NUMERIC (Decimal), never float; instants are timestamptz (UTC).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

NOW = text("now()")

party = Table(
    "party",
    metadata,
    Column("party_id", Text, primary_key=True),
    # scrypt hash "scrypt$n$r$p$salt$hash" for PasswordText
    Column("password_hash", Text, nullable=False),
    # the password sealed (AES-GCM) under the server key, for PasswordDigest; NULL = text only
    Column("digest_secret", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    # set: the party authenticates nowhere (temix party disable)
    Column("disabled_at", DateTime(timezone=True)),
    # false: a request over a client certificate bound to the party needs no UsernameToken
    Column("require_wssecurity", Boolean, nullable=False, server_default=text("true")),
    # the party's own EiTransaction endpoint: fills are pushed there (outbox); NULL = pull only
    Column("callback_url", Text),
)

# A client certificate, by the SHA-256 fingerprint of its DER encoding (lowercase hex), and
# the one party it acts for.
party_certificate = Table(
    "party_certificate",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("subject", Text),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("fingerprint ~ '^[0-9a-f]{64}$'", name="party_certificate_fingerprint_hex"),
    Index("ix_party_certificate_party", "party_id"),
)

party_market_context = Table(
    "party_market_context",
    metadata,
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("market_context", Text, nullable=False),
    PrimaryKeyConstraint("party_id", "market_context"),
    Index("ix_party_market_context_market_context", "market_context"),
)

party_group = Table(
    "party_group",
    metadata,
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("group_name", Text, nullable=False),
    PrimaryKeyConstraint("party_id", "group_name"),
    Index("ix_party_group_group_name", "group_name"),
)

# One row per (party, requestID) of a state-changing request: the exact answer given, so a
# retry gets the same bytes back and changes nothing.
request_log = Table(
    "request_log",
    metadata,
    Column("party_id", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("operation", Text, nullable=False),
    # the request payload as it came (digested with C14N 2.0 only when a retry differs)
    Column("request_body", LargeBinary),
    # SHA-256 of the payload's C14N 2.0 form: what rows logged before migration 0010 kept
    Column("body_digest", LargeBinary),
    Column("response", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    PrimaryKeyConstraint("party_id", "request_id"),
)

# WS-Security PasswordDigest nonces, kept for the accepted clock skew so a replay is refused.
used_nonce = Table(
    "used_nonce",
    metadata,
    Column("party_id", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("party_id", "nonce"),
    Index("ix_used_nonce_created_at", "created_at"),
)

tender = Table(
    "tender",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("party_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("tender_id", Text, nullable=False),
    # the one counterparty a tender is addressed to; NULL for a distributed tender
    Column("counterparty_id", Text, ForeignKey("party.party_id")),
    # the distribution that reached its recipients; NULL for a tender addressed to one party
    Column("distribution_pk", BigInteger, ForeignKey("distribution.id")),
    Column("request_id", Text, nullable=False),
    Column("side", String(4), nullable=False),
    Column("transactive_state", Text, nullable=False),
    Column("product_kind", Text, nullable=False),
    Column("receipt_node", Text),
    Column("delivery_node", Text, nullable=False),
    Column("market_context", Text, nullable=False),
    Column("currency", String(3)),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("price_per_kwh", Numeric, nullable=False),
    Column("quantity_kw", Numeric, nullable=False),
    Column("remaining_kw", Numeric, nullable=False),
    # the siScaleCode the party used for the rate, to render quantities back in its unit
    Column("rate_scale", Text, nullable=False),
    Column("integral_only", Boolean, nullable=False, server_default=text("false")),
    # an option tender (emix:emixOption): price_per_kwh is then its premium
    Column("option_type", Text),
    Column("holder_side", String(4)),
    Column("strike_per_kwh", Numeric),
    Column("expires_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    # the emix product as the party sent it (C14N), re-rendered with the remaining quantity
    Column("product_xml", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    UniqueConstraint("party_id", "tender_id", name="uq_tender_party_tender_id"),
    CheckConstraint("side in ('buy', 'sell')", name="ck_tender_side"),
    CheckConstraint("remaining_kw >= 0 and remaining_kw <= quantity_kw", name="ck_tender_remaining"),
    CheckConstraint("start_at < end_at", name="ck_tender_interval"),
)


def _list_indexes(table: Table, order: str, during: str, where: str | None = None) -> None:
    """For a party on either side of a row (party_id, counterparty_id), the order the lists
    return rows in, (side, start_at, id), and the delivery interval as a range (GiST, with
    btree_gist for the side) so an interval filter reads only the window."""
    partial = {"postgresql_where": text(where)} if where else {}
    for side in (table.c.party_id, table.c.counterparty_id):
        name = f"ix_{table.name}_{side.name.removesuffix('_id')}"
        Index(f"{name}_{order}", side, table.c.start_at, table.c.id, **partial)
        Index(
            f"{name}_{during}", side, func.tstzrange(table.c.start_at, table.c.end_at), postgresql_using="gist", **partial
        )


# A party's own standing tenders, and those addressed to it.
_list_indexes(tender, "standing", "standing_during", where="cancelled_at is null and remaining_kw > 0")
# whether another party's tender with this ID is addressed to the caller (refused cancels)
Index("ix_tender_counterparty_tender_id", tender.c.counterparty_id, tender.c.tender_id)
# the standing tenders of the distributions a party received, in list order
Index(
    "ix_tender_distribution_standing",
    tender.c.distribution_pk,
    tender.c.start_at,
    tender.c.id,
    postgresql_where=text("cancelled_at is null and remaining_kw > 0"),
)

# An exchange's order books (service/domain/matching.py): the standing, actionable tenders
# addressed to a market context's exchange, by book, price and arrival (sells read forwards,
# buys backwards by price: service/store/book.py).
Index(
    "ix_tender_book",
    tender.c.market_context,
    tender.c.delivery_node,
    tender.c.start_at,
    tender.c.end_at,
    tender.c.side,
    tender.c.price_per_kwh,
    tender.c.id,
    postgresql_where=text(
        "cancelled_at is null and remaining_kw > 0 and transactive_state = 'tender'"
        " and counterparty_id = (market_context || '#exchange')"
    ),
)

transaction = Table(
    "transaction",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # the acceptor names the transaction; the tender's party sees the same ID
    Column("party_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("transaction_id", Text, nullable=False),
    Column("tender_pk", BigInteger, ForeignKey("tender.id"), nullable=False),
    Column("counterparty_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("request_id", Text, nullable=False),
    Column("side", String(4), nullable=False),
    Column("product_kind", Text, nullable=False),
    Column("receipt_node", Text),
    Column("delivery_node", Text, nullable=False),
    Column("market_context", Text, nullable=False),
    Column("currency", String(3)),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("price_per_kwh", Numeric, nullable=False),
    Column("quantity_kw", Numeric, nullable=False),
    Column("rate_scale", Text, nullable=False),
    # an option transaction: price_per_kwh is its premium; it changes no position until exercised
    Column("option_type", Text),
    Column("holder_side", String(4)),
    Column("strike_per_kwh", Numeric),
    # an exercise: the energy/transport transaction made by exercising that option transaction
    Column("option_transaction_pk", BigInteger, ForeignKey("transaction.id")),
    Column("product_xml", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    UniqueConstraint("party_id", "transaction_id", name="uq_transaction_party_transaction_id"),
    CheckConstraint("side in ('buy', 'sell')", name="ck_transaction_side"),
    CheckConstraint("quantity_kw > 0", name="ck_transaction_quantity"),
)
# A party's transactions as acceptor and as maker.
_list_indexes(transaction, "start", "during")
Index(
    "ix_transaction_option_transaction_pk",
    transaction.c.option_transaction_pk,
    postgresql_where=text("option_transaction_pk is not null"),
)

# A party's position as a step function: change points, summed per instant. A transaction
# adds two points (start, end) whatever its duration. Sells positive, buys negative.
position_change = Table(
    "position_change",
    metadata,
    Column("party_id", Text, nullable=False),
    Column("market_context", Text, nullable=False),
    Column("product_kind", Text, nullable=False),
    # '' for a one-node interface, so the key has no NULLs
    Column("receipt_node", Text, nullable=False),
    Column("delivery_node", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("rate_kw", Numeric, nullable=False),
    Column("value_rate", Numeric, nullable=False),
    # covering: a position window (its opening sum and change points) is read from the key
    # index alone, and each upsert writes one btree
    PrimaryKeyConstraint(
        "party_id", "market_context", "product_kind", "receipt_node", "delivery_node", "at",
        name="position_change_pkey",
        postgresql_include=["rate_kw", "value_rate"],
    ),
)

# Who may see and accept a distributed tender: fixed when it is distributed, so a party
# enrolling later does not see offers made before it joined. Kept once per EiDistributeTender
# (per market context in it), not per tender: T tenders to R parties are T + R rows.
distribution = Table(
    "distribution",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("party_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("request_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

distribution_recipient = Table(
    "distribution_recipient",
    metadata,
    Column("distribution_pk", BigInteger, ForeignKey("distribution.id", ondelete="CASCADE"), nullable=False),
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("distribution_pk", "party_id"),
    Index("ix_distribution_recipient_party", "party_id"),
)

# Market contexts this service trades in: time zone for calendar durations, currency, and
# the energy unit prices are per when a product does not say.
market_context = Table(
    "market_context",
    metadata,
    Column("market_context", Text, primary_key=True),
    Column("timezone", Text, nullable=False, server_default=text("'UTC'")),
    Column("currency", String(3)),
    Column("energy_unit", Text, nullable=False, server_default=text("'kWh'")),
    # how options in this market are exercised: how long before delivery, in which steps
    Column("option_lead_time", Text, nullable=False, server_default=text("'PT1H'")),
    Column("option_granularity", Text, nullable=False, server_default=text("'PT1H'")),
    # whether it runs an exchange: tenders addressed to '<URI>#exchange' are matched
    Column("exchange", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    # the length of its meter readings' intervals (ISO 8601, dividing a day): see domain.deliveries
    Column("settlement_interval", Text, nullable=False, server_default=text("'PT1H'")),
)

# --- Service areas (geo-location) -------------------------------------------------------------
# Named areas a party is placed in (a grid region, a postal zone code, ...): an EiDistributeTender's
# temix:distributionScope/temix:serviceArea narrows its recipients to parties in one of them.
party_service_area = Table(
    "party_service_area",
    metadata,
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("service_area", Text, nullable=False),
    PrimaryKeyConstraint("party_id", "service_area"),
    Index("ix_party_service_area_service_area", "service_area"),
)

# --- Quotes (EiQuote) ---------------------------------------------------------------------------
# One row per ei:eiQuote: its products as sent (each serialised, one after another), their
# market context and the span of their delivery intervals (what interval filters match).
# Addressed to one party (subscriber_id) or to a market context's parties, whose recipients are
# kept once per request as a distribution (as EiDistributeTender's): Q quotes to R parties are
# Q + R rows.
quote = Table(
    "quote",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("party_id", Text, ForeignKey("party.party_id"), nullable=False),  # the publisher
    Column("quote_id", Text, nullable=False),
    Column("subscriber_id", Text, ForeignKey("party.party_id")),
    Column("distribution_pk", BigInteger, ForeignKey("distribution.id")),
    Column("request_id", Text, nullable=False),
    Column("market_context", Text, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("product_xml", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    UniqueConstraint("party_id", "quote_id", name="uq_quote_party_quote_id"),
    CheckConstraint("start_at < end_at", name="ck_quote_interval"),
    CheckConstraint("(subscriber_id is null) <> (distribution_pk is null)", name="ck_quote_addressee"),
)
# A publisher's own quotes; those addressed to a party; those of the distributions it received.
Index("ix_quote_party_start", quote.c.party_id, quote.c.start_at, quote.c.id)
Index(
    "ix_quote_subscriber_standing", quote.c.subscriber_id, quote.c.party_id, quote.c.start_at, quote.c.id,
    postgresql_where=text("cancelled_at is null"),
)
Index(
    "ix_quote_distribution_standing", quote.c.distribution_pk, quote.c.start_at, quote.c.id,
    postgresql_where=text("cancelled_at is null"),
)

# Published trade prices: per market context, product kind, interface, delivery interval and
# currency, the running sums of every transaction and exercise ('' for no receipt node or no
# currency). One upsert per request keeps them, in the request's transaction.
trade_price = Table(
    "trade_price",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("market_context", Text, nullable=False),
    Column("product_kind", Text, nullable=False),
    Column("receipt_node", Text, nullable=False),
    Column("delivery_node", Text, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("currency", Text, nullable=False),
    Column("last_price_per_kwh", Numeric, nullable=False),
    Column("energy_kwh", Numeric, nullable=False),
    # sum of price x energy: the VWAP is value / energy
    Column("value", Numeric, nullable=False),
    Column("trades", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "market_context", "product_kind", "receipt_node", "delivery_node", "start_at", "end_at", "currency",
        name="uq_trade_price_key",
    ),
)
# listed per market context, latest delivery first
Index("ix_trade_price_market_start", trade_price.c.market_context, trade_price.c.start_at, trade_price.c.id)
# --- Audit trail --------------------------------------------------------------------------------
# Append-only: one row per state change, written in the transaction of the change; triggers
# (migration 0014) refuse UPDATE, DELETE and TRUNCATE. ``at`` is the server clock of the
# request (or the database's for a `temix` command); ``actor`` a party ID or
# ``operator:<command>``; ``details`` what changed, never a password or secret.
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("actor", Text, nullable=False),
    Column("request_id", Text),
    Column("kind", Text, nullable=False),
    Column("party_id", Text),
    Column("counterparty_id", Text),
    Column("tender_id", Text),
    Column("transaction_id", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # `temix audit` reads by time, by either party (an acting party is always one of them),
    # and by tenderID
    Index("ix_audit_event_at", "at"),
    Index("ix_audit_event_party", "party_id", "at"),
    Index("ix_audit_event_counterparty", "counterparty_id", "at", postgresql_where=text("counterparty_id is not null")),
    Index("ix_audit_event_tender", "tender_id", postgresql_where=text("tender_id is not null")),
)
# --- Roles and registrations ------------------------------------------------------------------
# A party's roles: 'registrar' (may register other parties over /EiRegistration), and those
# later issues add. Given by `temix party add|role --role`, or by a registration.
party_role = Table(
    "party_role",
    metadata,
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("role", Text, nullable=False),
    PrimaryKeyConstraint("party_id", "role"),
    Index("ix_party_role_role", "role"),
)

# One EiCreatePartyRegistration: the registree, who registered it, and (in
# registration_membership) the memberships it added, which its cancellation takes out.
registration = Table(
    "registration",
    metadata,
    Column("registration_id", Text, primary_key=True),
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("registrar_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("request_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
    Index("ix_registration_party_created", "party_id", "created_at"),
)

registration_membership = Table(
    "registration_membership",
    metadata,
    Column(
        "registration_id", Text, ForeignKey("registration.registration_id", ondelete="CASCADE"), nullable=False
    ),
    # market_context | group | service_area | role
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    PrimaryKeyConstraint("registration_id", "kind", "name"),
    CheckConstraint(
        "kind in ('market_context', 'group', 'service_area', 'role')", name="ck_registration_membership_kind"
    ),
)


# --- Push: fills to parties' own endpoints ------------------------------------------------------
# One EiCreateTransaction to send: written with the fill, in its database transaction, for a
# party with a callback URL; delivered in id order per party by the push worker
# (service/push.py), at least once. The message is made from the sender's transaction
# (transaction.party_id = sender_id) when sent.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("party_id", Text, ForeignKey("party.party_id", ondelete="CASCADE"), nullable=False),
    Column("sender_id", Text, nullable=False),
    Column("transaction_id", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("attempts", BigInteger, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("party_id", "request_id", name="uq_outbox_party_request_id"),
    # the undelivered messages of each party, head first: what the worker reads
    Index("ix_outbox_undelivered", "party_id", "id", postgresql_where=text("delivered_at is null")),
)

# --- Metered delivery -------------------------------------------------------------------------
# One value per party, market context, interface, settlement interval and direction; a later
# reading for the key replaces it, and the replaced value goes to meter_reading_history.
# ``interface`` is the key the positions use for a product's interface (its delivery node).
meter_reading = Table(
    "meter_reading",
    metadata,
    Column("party_id", Text, ForeignKey("party.party_id"), nullable=False),
    Column("market_context", Text, ForeignKey("market_context.market_context"), nullable=False),
    Column("interface", Text, nullable=False),
    Column("interval_start", DateTime(timezone=True), nullable=False),
    Column("interval_end", DateTime(timezone=True), nullable=False),
    Column("injection", Boolean, nullable=False),
    Column("energy_kwh", Numeric, nullable=False),
    # a party ID, or 'operator' for `temix delivery import`
    Column("reported_by", Text, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    # the requestID of the report, or the imported file's name
    Column("source", Text, nullable=False),
    PrimaryKeyConstraint(
        "party_id", "market_context", "interface", "interval_start", "injection", name="meter_reading_pkey"
    ),
    CheckConstraint("energy_kwh >= 0", name="ck_meter_reading_energy"),
    CheckConstraint("interval_end > interval_start", name="ck_meter_reading_interval"),
    # settlement and export read a market context's readings by interval
    Index("ix_meter_reading_market_start", "market_context", "interval_start"),
)

meter_reading_history = Table(
    "meter_reading_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("party_id", Text, nullable=False),
    Column("market_context", Text, nullable=False),
    Column("interface", Text, nullable=False),
    Column("interval_start", DateTime(timezone=True), nullable=False),
    Column("injection", Boolean, nullable=False),
    Column("old_kwh", Numeric, nullable=False),
    Column("new_kwh", Numeric, nullable=False),
    Column("reported_by", Text, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Index(
        "ix_meter_reading_history_key", "party_id", "market_context", "interface", "interval_start", "injection"
    ),
)
