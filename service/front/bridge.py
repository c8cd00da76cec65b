"""A WSGI application served over granian's RSGI interface, with the request body read under a
deadline and a size bound before any WSGI code runs.

granian's own WSGI interface hands the body to Python as a blocking stream: a client that
trickles or stalls its body holds a Python thread for as long as it likes (granian has a header
read timeout, not a body one). Over RSGI the body is awaited in the worker's event loop, so
here a slow body costs a pending coroutine, not a worker, and is dropped at the deadline.
The WSGI application then runs in the event loop's thread, one request at a time per worker
(as a gunicorn sync worker runs it), on a body already in memory.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

_log = logging.getLogger("temix.front")

TIMED_OUT = b"request body not received in time\n"
INCOMPLETE = b"request body shorter than its Content-Length\n"


class WsgiOverRsgi:
    """``WsgiOverRsgi(app, max_body_bytes=..., body_timeout=...)`` is an RSGI application.

    It reads at most ``max_body_bytes + 1`` bytes of a body (whatever its framing: Content-Length
    or chunked), so the application sees that it is too large and refuses it (413) without the
    rest being read or kept; a Content-Length over the limit is not read at all. A body not
    complete ``body_timeout`` seconds after the headers gets a 408 and the connection is closed.
    """

    def __init__(self, app: Callable, *, max_body_bytes: int, body_timeout: float):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope, proto) -> None:
        if scope.proto != "http":
            return
        environ = _environ(scope)
        declared = _content_length(environ)
        if declared is not None and declared > self.max_body_bytes:
            body = b""  # not read: the application answers from CONTENT_LENGTH alone
        elif declared is None and "HTTP_TRANSFER_ENCODING" not in environ:
            body = b""
        else:
            try:
                async with asyncio.timeout(self.body_timeout):
                    # with a Content-Length (within the limit) hyper reads exactly that many bytes
                    body = await (proto() if declared is not None else self._read_body(proto))
            except TimeoutError:
                _log.info("dropped %s: request body not received within %g s", scope.client, self.body_timeout)
                proto.response_bytes(
                    408, [("content-type", "text/plain"), ("connection", "close")], TIMED_OUT
                )
                return
            if declared is not None and len(body) < declared:
                _log.info("dropped %s: the client left before sending its whole body", scope.client)
                proto.response_bytes(400, [("content-type", "text/plain"), ("connection", "close")], INCOMPLETE)
                return
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        status, headers, reply = self._run(environ)
        proto.response_bytes(status, headers, reply)

    async def _read_body(self, proto) -> bytes:
        chunks, size, limit = [], 0, self.max_body_bytes
        async for chunk in proto:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break  # enough to refuse it; the rest is never read
        return b"".join(chunks)[: limit + 1]

    def _run(self, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        started: list = []

        def start_response(status: str, headers, exc_info=None):
            started[:] = [int(status[:3]), headers]

        try:
            result = self.app(environ, start_response)
            try:
                reply = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            _log.exception("the application failed")
            return 500, [("content-type", "text/plain")], b"internal error\n"
        return started[0], [(str(name), str(value)) for name, value in started[1]], reply


def _content_length(environ: dict) -> int | None:
    try:
        return int(environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None


def _environ(scope) -> dict:
    server_host, _, server_port = scope.server.rpartition(":")
    client_host = scope.client.rpartition(":")[0]
    environ = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(scope.path).decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_host.strip("[]"),
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client_host.strip("[]"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if "HTTP_HOST" not in environ and scope.authority:
        environ["HTTP_HOST"] = scope.authority
    return environ

