"""``temix serve`` on gunicorn (``TEMIX_FRONT=gunicorn``): the front the service had first, kept
as a fallback. Its settings file (deploy/gunicorn.conf.py, or TEMIX_GUNICORN_CONFIG) chooses the
worker class (sync there: one request per worker, the connection closed after each answer, no
read deadline: slow clients hold workers, see README "Under faults").

With ``certfile``/``keyfile`` it serves HTTPS, TLS 1.2 or newer; with ``client_ca`` it asks each
client for a certificate (optional: CERT_OPTIONAL) and refuses the handshake of one that the
CA did not sign. The sync worker hands the application its TLS socket (``gunicorn.socket``),
whose verified peer certificate identifies the party (``service.auth.certificates``).
"""

from __future__ import annotations

import runpy
import ssl
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from service.config import Settings


def serve_gunicorn(settings: Settings, app_factory: Callable[[Settings], Any], announce) -> None:
    _GunicornApplication(settings, app_factory, announce).run()


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The settings file, then what Settings decides."""
    options = {
        name: value
        for name, value in runpy.run_path(str(settings.gunicorn_config)).items()
        if not name.startswith("_")
    }
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    options.update(
        bind=[f"{host}:{settings.port}"],
        workers=settings.workers,
        preload_app=False,  # each worker opens its own database engine after the fork
        loglevel=settings.log_level.lower(),
        proc_name="temix",
    )
    if settings.certfile is not None:
        options.update(
            certfile=str(settings.certfile),
            keyfile=str(settings.keyfile),
            cert_reqs=ssl.CERT_OPTIONAL if settings.client_ca else ssl.CERT_NONE,
            ssl_context=_tls_context_hook(),
        )
        if settings.client_ca is not None:
            options["ca_certs"] = str(settings.client_ca)
    return options


def _tls_context_hook():
    """gunicorn's ``ssl_context`` hook: gunicorn's context at TLS 1.2 or newer, built once per
    worker (gunicorn would build one, reading the key files, for every connection)."""
    built: list[ssl.SSLContext] = []

    def ssl_context(config, default_ssl_context_factory) -> ssl.SSLContext:
        if not built:
            context = default_ssl_context_factory()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            built.append(context)
        return built[0]

    return ssl_context


class _GunicornApplication(BaseApplication):
    def __init__(self, settings: Settings, app_factory: Callable[[Settings], Any], announce):
        self.settings = settings
        self.app_factory = app_factory
        self.announce = announce
        super().__init__()

    def load_config(self) -> None:
        options = gunicorn_options(self.settings)
        their_when_ready = options.pop("when_ready", None)
        for name, value in options.items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

        def when_ready(server) -> None:
            self.announce()
            if their_when_ready is not None:
                their_when_ready(server)

        self.cfg.set("when_ready", when_ready)

    def load(self):
        return self.app_factory(self.settings)
