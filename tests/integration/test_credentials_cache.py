"""A worker remembers a party's stored credentials for TEMIX_CREDENTIAL_CACHE seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from service.auth.certificates import Transport
from service.auth.passwords import hash_password
from service.auth.wssecurity import Authenticator, UsernameToken
from service.soap.faults import AuthenticationFault
from service.store.parties import add_party
from service.store.uow import UnitOfWork

NOW = datetime(2030, 1, 1, tzinfo=UTC)
HTTPS = Transport(secure=True)  # PasswordText is refused over plain HTTP


@pytest.fixture
def party(engine):
    with engine.begin() as conn:
        add_party(conn, "p", hash_password("old"), None)
    return "p"


def login(engine, authenticator, password) -> str:
    with UnitOfWork(engine) as uow:
        return authenticator.authenticate(uow, UsernameToken("p", password, digest=False), NOW, HTTPS)


def change_password(engine, password):
    with engine.begin() as conn:
        conn.execute(text("UPDATE party SET password_hash = :h WHERE party_id = 'p'"), {"h": hash_password(password)})


def test_a_changed_password_takes_effect_at_once_without_the_cache(engine, party):
    authenticator = Authenticator(None, timedelta(minutes=5), credential_ttl=0)
    assert login(engine, authenticator, "old") == "p"
    change_password(engine, "new")
    with pytest.raises(AuthenticationFault):
        login(engine, authenticator, "old")
    assert login(engine, authenticator, "new") == "p"


def test_within_the_cache_time_the_remembered_credentials_are_used(engine, party):
    authenticator = Authenticator(None, timedelta(minutes=5), credential_ttl=3600)
    assert login(engine, authenticator, "old") == "p"
    change_password(engine, "new")
    assert login(engine, authenticator, "old") == "p"  # documented: effective within the TTL
    with pytest.raises(AuthenticationFault):
        login(engine, authenticator, "wrong")


def test_an_unknown_party_is_not_remembered(engine):
    authenticator = Authenticator(None, timedelta(minutes=5), credential_ttl=3600)
    with pytest.raises(AuthenticationFault):
        login(engine, authenticator, "old")
    with engine.begin() as conn:
        add_party(conn, "p", hash_password("old"), None)
    assert login(engine, authenticator, "old") == "p"
