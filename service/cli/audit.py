"""``temix audit``: the audit trail, streamed.

    temix audit [--party ID] [--tender ID] [--from T] [--to T] [--format table|json]

Events in time order, read from a server-side cursor and written as they come (constant
memory however long the trail): a table, or one JSON object per line (JSON Lines).
``tender.expired`` events are derived from the tenders up to now (service/store/audit.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from typing import TextIO

from service.cli.common import CommandError, with_connection
from service.config import Settings
from service.domain.audit import TABLE_HEADER, as_json, as_row

# Column widths of the streamed table (rows cannot be measured before they are written: a
# wider cell shifts the rest of its line rather than being cut).
WIDTHS = (20, 14, 12, 19, 12, 12, 12, 12)


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    trail = commands.add_parser(
        "audit", parents=[common], help="show the audit trail: who changed what, and when (streamed)"
    )
    trail.add_argument("--party", metavar="ID", help="only events about this party's tenders, transactions or registration")
    trail.add_argument("--tender", metavar="ID", help="only events of tenders with this tenderID")
    trail.add_argument("--from", dest="since", metavar="T", type=instant_arg, help="from this instant (inclusive): ISO 8601, or a date for its 00:00 UTC")
    trail.add_argument("--to", dest="until", metavar="T", type=instant_arg, help="up to this instant (exclusive)")
    trail.add_argument("--format", choices=("table", "json"), default="table", help="a table (default) or JSON Lines")
    trail.set_defaults(handler=_audit)


def instant_arg(text: str) -> datetime:
    """``2030-01-01T10:00:00Z``, with any offset, or ``2030-01-01`` (00:00 UTC); a time
    without an offset is UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or instant: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def table_line(cells: tuple[str, ...]) -> str:
    """One line of the streamed table: cells padded to WIDTHS, the last one as it is."""
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, WIDTHS)) + "  " + cells[-1]


def _audit(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.audit import AuditFilter, stream_events

    if args.since and args.until and args.since >= args.until:
        raise CommandError("--from must be before --to")
    wanted = AuditFilter(args.party, args.tender, args.since, args.until)
    out = sys.stdout
    try:
        with with_connection(settings) as conn:
            if args.format == "table":
                out.write(table_line(TABLE_HEADER) + "\n")
            for event in stream_events(conn, wanted, datetime.now(UTC)):
                out.write((as_json(event) if args.format == "json" else table_line(as_row(event))) + "\n")
        out.flush()
    except BrokenPipeError:  # `temix audit | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return 0
