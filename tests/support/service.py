"""The service assembled in-process on the test database: for integration tests.

Import the fixtures into a test module: ``from tests.support.service import service  # noqa``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.app import create_app
from service.auth.passwords import hash_password, load_or_create_key, seal_secret
from service.config import Settings
from service.domain.markets import MarketContext
from service.store.markets import add_market_context
from service.store.parties import add_party
from tests.support.soap import InProcessClient

PARTIES = {"party-A": "secret-A", "party-B": "secret-B", "party-C": "secret-C"}
# Tests that use the market contexts enrol A, B and C in CTX, and C also in group "north".
ENROLMENT = {"party-A": ["http://market.example.com/temix/ctx1"], "party-B": ["http://market.example.com/temix/ctx1"], "party-C": ["http://market.example.com/temix/ctx1"]}
GROUPS = {"party-C": ["north"]}
MARKET_CONTEXTS = [
    MarketContext("http://market.example.com/temix/ctx1"),
    MarketContext("http://other.example/ctx"),
    MarketContext("http://market.example.com/temix/new-york", timezone="America/New_York", currency="USD", energy_unit="MWh"),
]


class Clock:
    """The server clock, settable by tests (expiry is enforced by it)."""

    def __init__(self):
        self.now = datetime(2029, 12, 31, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(engine, tmp_path, clock) -> InProcessClient:
    settings = Settings.from_env(
        environ={}, data_dir=tmp_path, database_url="postgresql://unused/", allow_insecure_password=True
    )
    key = load_or_create_key(settings.secret_key_file)
    with engine.begin() as conn:
        for context in MARKET_CONTEXTS:
            add_market_context(conn, context)
        for party, password in PARTIES.items():
            add_party(
                conn,
                party,
                hash_password(password),
                seal_secret(key, password),
                market_contexts=ENROLMENT.get(party, ()),
                groups=GROUPS.get(party, ()),
            )
    return InProcessClient(create_app(settings, engine, clock=clock), PARTIES)
