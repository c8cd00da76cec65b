"""Push: what the outbox's delivery rules are, apart from any wire or database.

A fill is pushed to a party with a callback URL as an EiCreateTransaction from the exchange.
Its requestID is made from the transaction's ID, so every attempt of one message carries the
same requestID and a receiver that keeps what it answered by requestID takes a redelivery as a
retry. A failed attempt is retried after a delay doubling from ``BASE`` up to ``cap``;
a party's messages go one at a time, in the order they were written: the next waits until the
one before it is delivered, so a party that is down holds up only its own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BASE_SECONDS = 1
DEFAULT_CAP_SECONDS = 300
REQUEST_ID_PREFIX = "push-"
STATES = ("pending", "failed", "delivered")


def request_id_for(transaction_id: str) -> str:
    """The requestID of the message that pushes this transaction: the same at every attempt."""
    return REQUEST_ID_PREFIX + transaction_id


def backoff(attempts: int, cap_seconds: int = DEFAULT_CAP_SECONDS) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1, 2, 4, ... seconds, capped)."""
    if attempts < 1:
        raise ValueError("backoff follows a failed attempt: attempts >= 1")
    exponent = min(attempts - 1, 32)  # 2**32 s is past any cap: no huge integers
    return timedelta(seconds=min(BASE_SECONDS * 2**exponent, cap_seconds))


@dataclass(frozen=True)
class Attempted:
    """What one attempt at a message changes in its outbox row."""

    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


def after_attempt(attempts_before: int, error: str | None, now: datetime, cap_seconds: int) -> Attempted:
    """The row after an attempt at ``now``: delivered if ``error`` is None, else due again
    after the backoff of its failures so far."""
    attempts = attempts_before + 1
    if error is None:
        return Attempted(attempts, now, None, now)
    return Attempted(attempts, now + backoff(attempts, cap_seconds), error[:500], None)


def state_of(delivered_at: datetime | None, last_error: str | None) -> str:
    """pending (not tried yet), failed (its last attempt failed: retried when due), delivered."""
    if delivered_at is not None:
        return "delivered"
    return "failed" if last_error is not None else "pending"



def check_callback_url(url: str) -> str:
    """A party's callback URL as given, if usable: http or https, a host, no credentials
    (they would be kept and shown in the clear), no fragment; else ValueError saying why."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise ValueError(f"callback URL {url!r} is not a URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"callback URL {url!r} must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"callback URL {url!r} must not carry credentials")
    if parts.fragment or url != url.strip() or len(url) > 2000:
        raise ValueError(f"callback URL {url!r} must have no fragment, no spaces, and at most 2000 characters")
    return url
