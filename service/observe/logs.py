"""The service's log lines: ``plain`` text (the format it always had) or ``json`` (one JSON
object per line, for a log shipper), chosen by ``TEMIX_LOG_FORMAT``.

In ``json`` every line is an object with ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``worker`` (the process id) and ``message``; and every SOAP request gets one line of its own
(logger ``temix.request``) with its ``operation``, ``endpoint``, ``party``, ``requestID``,
``responseCode`` or ``fault``, and ``duration_ms``. A request's body, and so any password in
it, is never logged: the line is built from the request's account (``service.observe.Exchange``)
alone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from service.observe import Exchange

PLAIN_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
PLAIN_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
REQUEST_LOGGER = "temix.request"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "worker": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(PLAIN_FORMAT, datefmt=PLAIN_DATE_FORMAT)


def formatter_config(log_format: str) -> dict:
    """The same formatter, as a ``logging.config.dictConfig`` entry (for the HTTP front)."""
    if log_format == "json":
        return {"()": f"{__name__}.JsonFormatter"}
    return {"format": PLAIN_FORMAT, "datefmt": PLAIN_DATE_FORMAT}


class RequestLog:
    """Writes each SOAP request's line (json format only: the plain format keeps the front's
    access log line), in the shape of ``JsonFormatter``'s lines, to standard error where they
    go. Written straight, one ``write`` per line, not through a log record, a handler and a
    formatter: on the request path that costs a few times less (bench/README.md). Logged at
    INFO: a ``TEMIX_LOG_LEVEL`` above it leaves them out."""

    def __init__(self, operations: Mapping[str, str], stream: TextIO | None = None):
        self.operations = operations
        self.log = logging.getLogger(REQUEST_LOGGER)
        self.stream = stream

    def record(self, exchange: Exchange, seconds: float) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        operation = self.operations.get(exchange.payload_tag, "unknown")
        outcome = exchange.fault or exchange.code
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "INFO",
            "logger": REQUEST_LOGGER,
            "worker": os.getpid(),
            "message": f"{operation} {outcome}",
            "operation": operation,
            "endpoint": exchange.endpoint,
            "party": exchange.party,
            "requestID": exchange.request_id,
            "duration_ms": round(seconds * 1000, 3),
        }
        if exchange.fault is not None:
            line["fault"] = exchange.fault
        else:
            line["responseCode"] = exchange.code
        (self.stream or sys.stderr).write(json.dumps(line, ensure_ascii=False) + "\n")
