"""``temix serve`` on gunicorn (``TEMIX_FRONT=gunicorn``): the front the service had first, kept
as a fallback. Its settings file (deploy/gunicorn.conf.py, or TEMIX_GUNICORN_CONFIG) chooses the
worker class (sync there: one request per worker, the connection closed after each answer, no
read deadline: slow clients hold workers, see README "Under faults").
"""

from __future__ import annotations

import runpy
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
    return options


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
