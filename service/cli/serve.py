"""``temix serve``: open (or start) the database, migrate it, and serve until SIGINT/SIGTERM.

    temix serve [--host H] [--port P] [--workers N] [--data-dir DIR] [--public-url URL]
                [--allow-registrar-passwords] [--certfile FILE --keyfile FILE [--client-ca FILE]]
                [--allow-insecure-password] [--app MODULE:FACTORY] [--no-push]
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TextIO

from service.cli.common import CommandError, open_database
from service.config import Settings
from service.soap.stacks import soap_endpoint_of

APP_FACTORY = "service.app:create_app"

_log = logging.getLogger("temix")


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    serve_parser = commands.add_parser("serve", parents=[common], help="run the SOAP service")
    serve_parser.add_argument("--host", help="address to listen on (env TEMIX_HOST; default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (env TEMIX_PORT; default 8080)")
    serve_parser.add_argument(
        "--workers", type=int, help="worker processes, each serving one request at a time"
        " (env TEMIX_WORKERS; default 2)"
    )
    serve_parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the service's address as clients reach it (e.g. https://temix.example.com behind a"
        " proxy), written into the WSDLs' soap:address (env TEMIX_PUBLIC_URL; default: the"
        " request's Host header if it is a valid host[:port], else --host:--port)",
    )
    serve_parser.add_argument(
        "--allow-registrar-passwords",
        action="store_true",
        default=None,
        help="let a registrar create a party with its first password over SOAP (EiCreatePartyRegistration);"
        " only behind TLS (env TEMIX_ALLOW_REGISTRAR_PASSWORDS=1; default off)",
    )
    serve_parser.add_argument(
        "--certfile", metavar="FILE", help="serve HTTPS (TLS 1.2 or newer) with this PEM certificate"
        " (chain); needs --keyfile (env TEMIX_CERTFILE)"
    )
    serve_parser.add_argument("--keyfile", metavar="FILE", help="the certificate's PEM private key (env TEMIX_KEYFILE)")
    serve_parser.add_argument(
        "--client-ca",
        metavar="FILE",
        help="mutual TLS: ask clients for a certificate signed by a CA of this PEM file (a client"
        " without one may still use WS-Security); a certificate bound to a party (temix party cert"
        " add) authenticates as that party. Uses the gunicorn front (env TEMIX_CLIENT_CA)",
    )
    serve_parser.add_argument(
        "--allow-insecure-password",
        action="store_const",
        const=True,
        help="accept WS-Security PasswordText over plain HTTP, which reveals the password: for"
        " local tests only (env TEMIX_ALLOW_INSECURE_PASSWORD=yes; default: refused)",
    )
    serve_parser.add_argument(
        "--app",
        default=APP_FACTORY,
        metavar="MODULE:FACTORY",
        help=f"the WSGI application factory, called as FACTORY(settings) in each worker"
        f" (default {APP_FACTORY})",
    )
    serve_parser.add_argument(
        "--no-push",
        dest="push",
        action="store_const",
        const=False,
        help="do not run the push worker, which sends fills to parties' callback URLs (env"
        " TEMIX_PUSH=no; default: run it; `temix outbox push` sends them instead)",
    )
    serve_parser.set_defaults(handler=_serve)


def _serve(args, settings: Settings, stdin: TextIO) -> int:
    from service.observe.folder import metrics_folder

    # The workers' metrics folder is named in the environment before anything imports
    # prometheus_client (the factory may): it picks its multi-process mode at import.
    with metrics_folder():
        # fail here, not in every worker: an unloadable factory, or a SOAP stack not installed
        soap_endpoint_of(settings.soap_stack)
        _import_factory(args.app)
        return serve(settings, args.app)


def serve(settings: Settings, app_path: str = APP_FACTORY) -> int:
    """Open (or start) the database, migrate it, and serve the WSGI application of
    ``app_path`` (MODULE:FACTORY) with the front of ``settings.front`` until SIGINT/SIGTERM; then
    stop the embedded server, if we started it.

    Each worker calls FACTORY(settings) after it starts, so each builds its own engine; the
    resolved database URL reaches them in ``settings.database_url``.
    """
    from service.store.embedded import stop_embedded

    owner = os.getpid()
    embedded = settings.database_url is None

    def announce() -> None:
        _log.info("temix serving %s", endpoint_urls(settings))

    check_port_free(settings)  # before starting anything: a clear message, not the front's
    pusher = None
    try:
        settings = replace(settings, database_url=open_database(settings))
        if settings.push:
            from service.push import BackgroundPusher

            pusher = BackgroundPusher(settings)
            pusher.start()
        if settings.front == "gunicorn":
            from service.front.gunicorn_server import serve_gunicorn

            serve_gunicorn(settings, _import_factory(app_path), announce)
        else:
            from service.front.granian_server import serve_granian

            serve_granian(settings, app_path, announce)
        return 0
    finally:
        # Workers are forked from inside the front: an exit of theirs passes through here.
        if pusher is not None and os.getpid() == owner:
            pusher.stop()
        if embedded and os.getpid() == owner:
            if stop_embedded(settings.data_dir):
                _log.info("embedded PostgreSQL server stopped")
            else:
                _log.info("embedded PostgreSQL server left running for another temix command")


def check_port_free(settings: Settings) -> None:
    """Refuse, saying how to choose another, when --host:--port is taken (another `temix serve`,
    another program). Bound with SO_REUSEADDR as the fronts bind, so a port that only has
    connections of an earlier server in TIME_WAIT counts as free."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CommandError(f"cannot listen on {settings.host!r}: {error.strerror}; choose another --host") from error
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {settings.port} on {settings.host} is already in use (another temix serve?):"
                    f" choose another with --port N (or TEMIX_PORT), e.g. --port {settings.port + 1}"
                ) from error
            if error.errno == errno.EACCES:
                raise CommandError(
                    f"port {settings.port} on {settings.host} needs privileges: choose one above 1023 with --port N"
                ) from error
            raise CommandError(f"cannot listen on {settings.host}:{settings.port}: {error.strerror}") from error


def endpoint_urls(settings: Settings) -> str:
    """What ``serve`` announces: each endpoint's address and its WSDL's."""
    from service.pipeline import ENDPOINTS  # the operation table's endpoints, every one

    base = settings.public_url or settings.bind_url
    return ", ".join(f"{base}/{name} (WSDL {base}/{name}?wsdl)" for name in ENDPOINTS)


def _import_factory(path: str) -> Callable[[Settings], Any]:
    import importlib

    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise CommandError(f"cannot load the application {path}: {error}") from error
