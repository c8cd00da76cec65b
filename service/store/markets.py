"""Market context rows, the per-worker cache the request path reads them through, and the
repository of the request path (``uow.market_contexts``)."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from service.auth.passwords import hash_password
from service.domain.errors import UnknownMarketContextError
from service.domain.matching import exchange_id
from service.domain.markets import MarketContext
from service.store.tables import market_context, party


def add_market_context(conn, context: MarketContext) -> bool:
    """False if the URI is already registered."""
    added = (
        conn.execute(
            insert(market_context)
            .values(
                market_context=context.uri,
                timezone=context.timezone,
                currency=context.currency,
                energy_unit=context.energy_unit,
                option_lead_time=context.option_lead_time,
                option_granularity=context.option_granularity,
                exchange=context.exchange,
                settlement_interval=context.settlement_interval,
                balancing_party_id=context.balancing_party_id,
                price_grace=context.price_grace,
            )
            .on_conflict_do_nothing()
            .returning(market_context.c.market_context)
        ).first()
        is not None
    )
    if added and context.exchange:
        set_exchange(conn, context.uri, True)
    return added


def list_market_contexts(conn) -> list[MarketContext]:
    m = market_context.c
    rows = conn.execute(
        select(
            m.market_context, m.timezone, m.currency, m.energy_unit, m.option_lead_time, m.option_granularity, m.exchange,
            m.settlement_interval, m.balancing_party_id, m.price_grace,
        )
        .order_by(m.market_context)
    )
    return [MarketContext(*row) for row in rows]


def set_exchange(conn, uri: str, runs: bool) -> bool:
    """Start or stop the market context's exchange; False if the URI is not registered.
    Its party (``MarketContext.exchange_id``) is registered when it first starts: tenders and
    transactions name it. It never authenticates: its password is random and forgotten, it
    keeps no digest secret, and it is enrolled nowhere (distributions never reach it)."""
    found = conn.execute(
        market_context.update()
        .where(market_context.c.market_context == uri)
        .values(exchange=runs)
        .returning(market_context.c.market_context)
    ).first()
    if found is None:
        return False
    if runs:
        conn.execute(
            insert(party)
            .values(party_id=exchange_id(uri), password_hash=hash_password(secrets.token_urlsafe(32)))
            .on_conflict_do_nothing(index_elements=[party.c.party_id])
        )
    return True


def set_balancing(conn, uri: str, balancing_party_id: str | None = None, price_grace: str | None = None) -> bool:
    """Name the balancing party and/or the price grace (None: unchanged); False if the URI is
    not registered."""
    values = {}
    if balancing_party_id is not None:
        values["balancing_party_id"] = balancing_party_id
    if price_grace is not None:
        values["price_grace"] = price_grace
    found = conn.execute(
        market_context.update().where(market_context.c.market_context == uri).values(**values)
        .returning(market_context.c.market_context)
    ).first()
    return found is not None


def set_settlement_interval(conn, uri: str, interval: str) -> bool:
    """Change the settlement interval; False if the URI is not registered. Readings already
    recorded keep the intervals they were recorded with."""
    found = conn.execute(
        market_context.update()
        .where(market_context.c.market_context == uri)
        .values(settlement_interval=interval)
        .returning(market_context.c.market_context)
    ).first()
    return found is not None


class MarketContexts:
    """``market_contexts[uri]`` -> MarketContext, refreshed from the database at most every
    ``ttl`` seconds and whenever an unknown URI is asked for (a context just added works
    at once; a changed time zone is seen within ``ttl``)."""

    def __init__(self, engine, ttl: float = 30.0):
        self.engine = engine
        self.ttl = ttl
        self._known: dict[str, MarketContext] = {}
        self._loaded_at = float("-inf")

    def __getitem__(self, uri: str) -> MarketContext:
        if time.monotonic() - self._loaded_at > self.ttl or uri not in self._known:
            self._reload()
        try:
            return self._known[uri]
        except KeyError:
            raise UnknownMarketContextError(
                f"Market context {uri!r} is not registered with this service"
            ) from None

    def _reload(self) -> None:
        with self.engine.connect() as conn:
            self._known = {context.uri: context for context in list_market_contexts(conn)}
        self._loaded_at = time.monotonic()


# One round trip: each registered market context asked for, and whether the party is enrolled.
_AS_SEEN_BY = (
    "SELECT m.market_context, m.timezone, m.currency, m.energy_unit, m.option_lead_time,"
    " m.option_granularity, EXISTS (SELECT 1 FROM party_market_context p"
    " WHERE p.party_id = %s AND p.market_context = m.market_context), m.settlement_interval,"
    " m.exchange, m.balancing_party_id, m.price_grace"
    " FROM market_context m WHERE m.market_context = ANY(%s)"
)


class MarketContextRepository:
    """``uow.market_contexts``: market contexts as a party sees them, inside the request's
    transaction."""

    def __init__(self, uow):
        self._uow = uow

    def as_seen_by(self, party_id: str, uris: list[str]) -> dict[str, tuple[MarketContext, bool]]:
        """URI -> (its terms, whether ``party_id`` is enrolled in it), for those of ``uris``
        that are registered."""
        if not uris:
            return {}
        rows = self._uow.fetch(self._uow.sql("temix_market_contexts_seen", _AS_SEEN_BY, (party_id, list(uris))))
        return {
            row[0]: (
                MarketContext(
                    *row[:6], exchange=row[8], settlement_interval=row[7], balancing_party_id=row[9], price_grace=row[10]
                ),
                row[6],
            )
            for row in rows
        }
