"""``temix export``: transactions, positions or meter readings of a window, for billing systems.

    temix export transactions|positions|deliveries --from T --to T [--market-context URI]
                 [--party ID] --format csv|json

Streamed to standard output (a server-side cursor; one batch in memory). Column names are
fixed (``service.store.export.COLUMNS``, documented in README "Metered delivery"); decimals
are written exactly, as strings, never floats; instants in UTC (ISO 8601, Z); an empty value
is an empty CSV field or JSON null. ``json`` is one array of objects, written as it is read.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from decimal import Decimal

from service.cli.audit import instant_arg
from service.cli.common import CommandError, with_connection
from service.domain.intervals import utc_text


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export", parents=[common], help="transactions, positions or meter readings of a window, as CSV or JSON"
    )
    export.add_argument("kind", choices=("transactions", "positions", "deliveries"))
    export.add_argument("--from", dest="start", metavar="T", type=instant_arg, required=True,
                        help="window start (inclusive): ISO 8601, or a date for its 00:00 UTC")
    export.add_argument("--to", dest="end", metavar="T", type=instant_arg, required=True,
                        help="window end (exclusive)")
    export.add_argument("--market-context", metavar="URI", help="only this market context")
    export.add_argument("--party", metavar="ID", help="only this party (a transaction: either side)")
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.set_defaults(handler=_export)


def cell(value) -> str | bool | None:
    """A value as exported: exact decimal text, UTC instant, bool, text or None."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return utc_text(value)
    return value


def _export(args, settings, stdin) -> int:
    from service.store.export import COLUMNS, ExportFilter, stream_rows

    if args.start >= args.end:
        raise CommandError("--from must be before --to")
    columns = COLUMNS[args.kind]
    wanted = ExportFilter(args.start, args.end, args.market_context, args.party)
    out = sys.stdout
    with with_connection(settings) as conn:
        rows = stream_rows(conn, args.kind, wanted)
        if args.format == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["true" if v is True else "false" if v is False else "" if v is None else cell(v) for v in row])
        else:
            out.write("[")
            for number, row in enumerate(rows):
                out.write(("," if number else "") + "\n" + json.dumps(dict(zip(columns, map(cell, row)))))
            out.write("\n]\n")
    return 0
