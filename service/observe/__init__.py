"""What the service tells its operators about each SOAP request: metrics and a log line.

A request's account (``Exchange``) is opened by the HTTP front when a POST arrives and closed
when its answer is ready; the layers in between fill in what they learn: the SOAP layer the
payload's tag (which names the operation, ``service.pipeline.PAYLOADS``) or the fault it
answered with, the pipeline the party, the requestID and the EI response code. So every
operation of the table is counted without being named here. The account travels in a context
variable: a worker serves one request at a time, and the layers keep their signatures.

Standard library only: ``service.observe.metrics`` (prometheus_client) and
``service.observe.logs`` are the adapters.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class Exchange:
    """One SOAP request as the operators see it; never its body or credentials."""

    endpoint: str
    payload_tag: str | None = None  # the Body's payload element, once the envelope is open
    party: str | None = None  # once authenticated
    request_id: str | None = None
    code: str | None = None  # the reply's ei:responseCode
    fault: str | None = None  # or the SOAP faultcode it was refused with


_current: ContextVar[Exchange | None] = ContextVar("temix_exchange", default=None)
_NOWHERE = Exchange("")  # written to when no front opened an account (in-process callers)


def current() -> Exchange:
    """The account of the request being served (a throwaway one outside a served request)."""
    return _current.get() or _NOWHERE


def opened(exchange: Exchange):
    """Make ``exchange`` the current account; returns the token for ``closed``."""
    return _current.set(exchange)


def closed(token) -> None:
    _current.reset(token)
