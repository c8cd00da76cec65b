"""The push worker: delivers the outbox's messages to the parties' callback URLs.

A pass takes each party with a message due, and sends its messages one at a time, oldest
first, each in its own database transaction that holds the message's row lock while it is
sent and records the outcome (``service.store.outbox``): delivered, or failed and due again
after a backoff (``service.domain.push``). A failure ends the party's turn, so its later
messages wait behind the one that failed; other parties go on. Several workers may run at
once (every ``temix serve``'s, ``temix outbox push``): a party's head message is sent by one of
them at a time. A worker that dies mid-send leaves the row unlocked and undelivered: it is
sent again (at least once; the receiver knows a redelivery by its requestID).

HTTP is the standard library's (urllib), with a timeout: the service's dependencies have no
HTTP client, and one POST per message needs none.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError

from service.domain.push import Attempted, after_attempt
from service.soap import push as wire
from service.soap.schema import SchemaSet
from service.store import outbox as store
from service.store.db import first_line
from service.store.outbox import Message

log = logging.getLogger("temix.push")

POLL_SECONDS = 1.0  # how soon a running worker sees a new message
MAX_ANSWER_BYTES = 1 << 20
Deliver = Callable[[Message], str | None]  # None: delivered; else what went wrong


class Outbox(Protocol):
    """What a pass needs of the outbox (the database's, or a test's)."""

    def due_parties(self, now: datetime) -> list[str]: ...

    def claiming(self, party_id: str, now: datetime):  # a context manager of Message | None
        ...

    def record(self, message: Message, attempted: Attempted) -> None: ...


@dataclass
class Tally:
    delivered: int = 0
    failed: int = 0


def push_pass(outbox: Outbox, deliver: Deliver, clock: Callable[[], datetime], cap_seconds: int,
              party_id: str | None = None) -> Tally:
    """Send every message due now (of one party if given), each party's in order; a party's
    turn ends at its first failure."""
    tally = Tally()
    parties = outbox.due_parties(clock())
    for party in parties if party_id is None else [p for p in parties if p == party_id]:
        while True:
            with outbox.claiming(party, clock()) as message:
                if message is None:
                    break
                error = deliver(message)
                outbox.record(message, after_attempt(message.attempts, error, clock(), cap_seconds))
            if error is not None:
                log.warning("push to %s failed (attempt %d of %s): %s", party, message.attempts + 1,
                            message.request_id, error)
                tally.failed += 1
                break
            tally.delivered += 1
    return tally


class DatabaseOutbox:
    """The outbox table, one transaction per attempt."""

    def __init__(self, engine):
        self._engine = engine
        self._conn = None

    def due_parties(self, now: datetime) -> list[str]:
        with self._engine.connect() as conn:
            return store.due_parties(conn, now)

    @contextmanager
    def claiming(self, party_id: str, now: datetime) -> Iterator[Message | None]:
        with self._engine.begin() as conn:
            self._conn = conn
            try:
                yield store.claim_head(conn, party_id, now)
            finally:
                self._conn = None

    def record(self, message: Message, attempted: Attempted) -> None:
        store.record_attempt(self._conn, message.pk, attempted)


class HttpDelivery:
    """POSTs a message's EiCreateTransaction to its party's callback URL (``deliver``)."""

    def __init__(self, schemas: SchemaSet, timeout_seconds: float):
        self._schemas = schemas
        self._timeout = timeout_seconds

    def __call__(self, message: Message) -> str | None:
        if urlsplit(message.callback_url).scheme not in ("http", "https"):
            return f"callback URL {message.callback_url!r} is not http(s)"
        fill = wire.Fill(
            message.request_id, message.sender_id, message.party_id, message.transaction_id, message.tender_id,
            message.party_side, message.product_xml,
        )
        request = urllib.request.Request(
            message.callback_url, data=wire.create_transaction(fill, self._schemas), method="POST",
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{wire.SOAP_ACTION}"'},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                body = answer.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as error:  # a SOAP Fault travels with 500: say what it says
            body = error.read(MAX_ANSWER_BYTES)
            refusal = wire.refusal_in(body, message.request_id, self._schemas) if body else None
            return f"HTTP {error.code}" + (f": {refusal}" if refusal else "")
        except (urllib.error.URLError, OSError) as error:  # refused, unreachable, timed out
            return f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        return wire.refusal_in(body, message.request_id, self._schemas)


def push_until_done(engine, settings, party_id: str | None = None,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC), deliver: Deliver | None = None) -> Tally:
    """What ``temix outbox push`` does: one pass, sending every message due now."""
    deliver = deliver or http_delivery(settings)
    return push_pass(DatabaseOutbox(engine), deliver, clock, settings.push_backoff_cap_seconds, party_id)


def http_delivery(settings) -> HttpDelivery:
    """Delivery over HTTP, with the schemas compiled (once: a worker keeps it)."""
    return HttpDelivery(SchemaSet(settings.schema_dir, settings.schema_entry), settings.push_timeout_seconds)


# --- the worker beside `temix serve` ----------------------------------------------------------


def follow(engine, settings, parent_pid: int | None = None, party_id: str | None = None) -> None:
    """``temix outbox push --follow``: pass after pass, a second apart, until stopped (SIGTERM,
    Ctrl-C) or, if ``parent_pid`` is given, until that process (``temix serve``) is gone. A
    database that cannot be reached is logged and tried again at the next pass."""
    deliver = http_delivery(settings)
    log.info("push worker started")
    while parent_pid is None or os.getppid() == parent_pid:
        try:
            push_until_done(engine, settings, party_id, deliver=deliver)
        except DBAPIError as error:  # the database is away: one line a pass, tried again
            log.warning("push pass failed: %s", first_line(error))
        except Exception:  # the worker outlives any one pass: logged, tried again
            log.exception("push pass failed")
        time.sleep(POLL_SECONDS)


class BackgroundPusher:
    """The push worker beside ``temix serve``: ``temix outbox push --follow`` as a process of
    its own, on the database serve resolved (a child process, not a thread: the HTTP fronts
    fork their workers, and a thread would be forked with them). Stopped with SIGTERM; it
    also stops by itself when serve is gone."""

    def __init__(self, settings):
        self._settings = settings
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        settings = self._settings
        env = {**os.environ, "DATABASE_URL": settings.database_url, "TEMIX_PUSH_PARENT": str(os.getpid())}
        command = [sys.executable, "-m", "service.cli", "outbox", "push", "--follow", "--data-dir", str(settings.data_dir)]
        self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
