"""``temix serve`` on granian: Rust reads and writes HTTP/1.1 (keep-alive), Python runs the app.

Each worker process calls the application factory after it starts (so each builds its own
engine) and serves it through ``WsgiOverRsgi``. Deadlines: a connection that sends no complete
request head within ``header_timeout_seconds`` (a slow or stalled head, or an idle kept-alive
connection) is closed by granian without Python seeing it; a body not complete within
``body_timeout_seconds`` gets a 408 and the connection is closed. On SIGINT/SIGTERM granian
stops its workers (each finishes the request in hand) and ``serve`` returns.

With ``certfile``/``keyfile`` granian terminates TLS (1.2 or newer) itself. Client certificates
(``client_ca``) need the gunicorn front: granian can verify them but does not tell the
application which certificate a client presented (``service.config``).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import signal
import socket
import sys
import threading
import time
from functools import partial

from granian.constants import HTTPModes, Interfaces, SSLProtocols
from granian.http import HTTP1Settings
from granian.server import Server

from service.config import Settings
from service.front.bridge import WsgiOverRsgi
from service.observe.logs import formatter_config

_log = logging.getLogger("temix")

# Requests a worker's event loop takes on at once: each waits for its body there, so this is
# what many slow clients can hold per worker before new connections queue in the backlog.
BACKPRESSURE = 1024
BACKLOG = 2048
ACCESS_LOG_FORMAT = '%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms'
# On SIGTERM a worker finishes the request in hand; after this long it is killed.
STOP_TIMEOUT = 20
_LINUX_PR_SET_PDEATHSIG = 1


def serve_granian(settings: Settings, app_path: str, announce) -> None:
    """Serve ``app_path`` (MODULE:FACTORY) until SIGINT/SIGTERM; ``announce()`` once bound."""
    tls = {}
    if settings.certfile is not None:
        tls = dict(ssl_cert=settings.certfile, ssl_key=settings.keyfile, ssl_protocol_min=SSLProtocols.tls12)
    server = Server(
        app_path,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers,
        http=HTTPModes.http1,
        websockets=False,
        backlog=BACKLOG,
        backpressure=BACKPRESSURE,
        http1_settings=HTTP1Settings(
            header_read_timeout=settings.header_timeout_seconds * 1000, keep_alive=True
        ),
        log_level=settings.log_level.lower(),
        log_dictconfig=_log_config(settings),
        # in json the request lines (service.observe.logs) replace the access log
        log_access=settings.log_format == "plain",
        log_access_format=ACCESS_LOG_FORMAT,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_TIMEOUT,
        **tls,
    )
    server.on_startup(partial(_announce_when_listening, settings, announce))
    server.serve(target_loader=partial(_worker_app, settings), wrap_loader=True)


def _announce_when_listening(settings: Settings, announce) -> None:
    """granian's workers bind the port after its start-up hooks ran: ``announce()`` once a
    connection is accepted, so "serving" in the log means it."""

    def wait_then_announce() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection((settings.host, settings.port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            announce()
            return
        _log.error("no worker accepted a connection on %s within 120 s", settings.bind_url)

    threading.Thread(target=wait_then_announce, name="temix-announce", daemon=True).start()


def _worker_app(settings: Settings, app_path: str) -> WsgiOverRsgi:
    """Runs in each worker after it starts: the application, wrapped for RSGI."""
    _die_with_the_master()
    module_name, _, attribute = app_path.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    return WsgiOverRsgi(
        factory(settings),
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
    )


def _die_with_the_master() -> None:
    """A worker whose master was killed (SIGKILL: no chance to stop it) stops too, instead of
    serving on with no one to restart it or to stop the embedded database after it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_LINUX_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _log_config(settings: Settings) -> dict:
    """granian's own log lines (in our format) and its access log on standard error, like ours."""
    stream = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "temix"}
    return {
        "formatters": {"temix": formatter_config(settings.log_format), "access": {"format": "%(message)s"}},
        "handlers": {"console": stream, "access": stream | {"formatter": "access"}},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": settings.log_level, "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
