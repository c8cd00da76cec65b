"""The service on granian's own WSGI interface, for the front comparison (bench/fronts.py) only:
``DATABASE_URL=... python bench/granian_wsgi.py --port P --workers N``.

Not a way to run the service: granian's WSGI hands the body to Python as a blocking stream
with no deadline, so a stalled body holds one of its blocking threads (issue 11; `temix serve`
uses granian's RSGI interface through service/front/bridge.py instead).
"""

from __future__ import annotations

import argparse
from functools import partial

from granian.constants import HTTPModes, Interfaces
from granian.server import Server

from service.config import Settings


def _load(settings: Settings, target: str):
    from service.app import create_app

    return create_app(settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env(port=args.port, workers=args.workers)
    server = Server("service.app:create_app", address=settings.host, port=settings.port, interface=Interfaces.WSGI,
                    workers=settings.workers, http=HTTPModes.http1, websockets=False, log_access=True)
    server.serve(target_loader=partial(_load, settings), wrap_loader=True)


if __name__ == "__main__":
    main()
