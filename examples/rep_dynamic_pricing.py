#!/usr/bin/env python3
"""A REP's dynamic pricing, against a running temix server (the scenario is service/demo/).

    python examples/rep_dynamic_pricing.py --url http://127.0.0.1:8080 --out DIR \
        (--registrar ID --registrar-password-stdin [--market-context URI] | [--data-dir DIR]) [--day YYYY-MM-DD]

The REP distributes hourly tenders for a day; a thermostat, a battery and an EV charger buy
(and the battery sells) through zeep; the REP caps the thermostat's evening price with a call
option. It prints every party's positions and costs and draws each profile to DIR/<party>.png.

The parties are registered over SOAP by a registrar (``--registrar ID``, its password on
stdin or in TEMIX_REGISTRAR_PASSWORD; ``temix party add-registrar ID`` prints one), or else,
with a market context of their own, with ``temix`` admin commands as an operator would: give
``--data-dir`` the server's data folder (or run with the server's ``DATABASE_URL`` and
``TEMIX_SECRET_KEY_FILE``). ``temix demo`` runs the same scenario.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, when run as a script

from service.demo import DemoError, add_arguments, main, registrar_of

__all__ = ["main"]


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the server's data folder (default: TEMIX_DATA_DIR or the per-user folder)")
    args = parser.parse_args(argv)
    try:
        registrar = registrar_of(args, sys.stdin, os.environ)
        result = main(args.url, out_dir=args.out, data_dir=args.data_dir, day=args.day,
                      registrar=registrar, market_context=args.market_context)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    return 1 if result.options.startswith("failed") else 0


if __name__ == "__main__":
    sys.exit(cli())
