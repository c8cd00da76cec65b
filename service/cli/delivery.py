"""``temix delivery import``: meter readings from a back office's CSV file.

    temix delivery import FILE.csv [--market-context URI]

The layout (README, "Metered delivery"): a header row naming the columns, in any order,
party, market_context, interface, interval_start, interval_end or duration, injection,
energy_kwh. One transaction per file: every row is checked, then either all of them are
recorded or, if any is rejected, none, and each rejected row is reported by line and reason.
The file is read as a stream and staged a chunk at a time, so memory stays flat.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from service.cli.common import CommandError, say, with_connection
from service.domain import audit
from service.domain.audit import Subject
from service.domain.deliveries import MeterReading, check_reading, energy
from service.domain.errors import InvalidValueError
from service.domain.intervals import parse_duration
from service.domain.markets import MarketContext

CHUNK = 10_000  # readings per COPY
PROGRESS = 100_000  # rows between progress lines
SHOWN = 100  # rejected rows reported by line; the rest are counted
REQUIRED = ("party", "interface", "interval_start", "injection", "energy_kwh")
COLUMNS = (*REQUIRED, "market_context", "interval_end", "duration")
TRUE, FALSE = frozenset({"true", "t", "1", "yes", "injection"}), frozenset({"false", "f", "0", "no", "withdrawal"})


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    delivery = commands.add_parser("delivery", help="meter readings")
    delivery_commands = delivery.add_subparsers(dest="delivery_command", required=True, metavar="COMMAND")
    add = delivery_commands.add_parser(
        "import", parents=[common],
        help="record the meter readings of a CSV file, all of them or (if a row is rejected) none",
    )
    add.add_argument("file", metavar="FILE.csv", type=Path)
    add.add_argument(
        "--market-context", metavar="URI",
        help="the market context of rows with no market_context (the column may then be left out)",
    )
    add.set_defaults(handler=_import)


class RowReader:
    """(line, checked reading) for each good row of the file; rejected rows are kept (the
    first ``SHOWN``) and counted."""

    def __init__(self, lines, markets: dict[str, MarketContext], default_market: str | None):
        self.rows = csv.reader(lines)
        self.markets = markets
        self.default_market = default_market
        self.rejected: list[tuple[int, str]] = []
        self.rejected_count = 0
        self.read = 0
        # per-row work kept small: a million rows share a few markets and durations
        self._steps = {uri: market.settlement_step for uri, market in markets.items()}
        self._durations: dict = {}
        header = next(self.rows, None)
        if header is None:
            raise CommandError("the file is empty: it needs a header row (README, 'Metered delivery')")
        self.header = [name.strip().lower() for name in header]
        self.index = {name: position for position, name in enumerate(self.header)}
        unknown = [name for name in self.header if name not in COLUMNS]
        missing = [name for name in REQUIRED if name not in self.index]
        if "market_context" not in self.index and default_market is None:
            missing.append("market_context (or --market-context)")
        if "interval_end" not in self.index and "duration" not in self.index:
            missing.append("interval_end or duration")
        if unknown or missing:
            raise CommandError(
                "the header row " + "; ".join(
                    ([f"has unknown columns {', '.join(unknown)}"] if unknown else [])
                    + ([f"lacks {', '.join(missing)}"] if missing else [])
                ) + f" (columns: {', '.join(COLUMNS)})"
            )

    def __iter__(self) -> Iterator[tuple[int, MeterReading]]:
        for row in self.rows:
            line = self.rows.line_num
            if not row:
                continue  # a blank line
            self.read += 1
            try:
                yield line, self._reading(row)
            except InvalidValueError as error:
                self.reject(line, error.description)

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < SHOWN:
            self.rejected.append((line, reason))

    def _cell(self, row: list[str], name: str) -> str:
        position = self.index.get(name)
        return row[position].strip() if position is not None else ""

    def _reading(self, row: list[str]) -> MeterReading:
        if len(row) != len(self.header):
            raise InvalidValueError(f"it has {len(row)} fields, the header {len(self.header)}")
        uri = self._cell(row, "market_context") or self.default_market
        if self.default_market is not None and uri != self.default_market:
            raise InvalidValueError(f"market context {uri!r}, but the import is for {self.default_market!r}")
        market = self.markets.get(uri)
        if market is None:
            raise InvalidValueError(f"market context {uri!r} is not registered")
        start = _instant(self._cell(row, "interval_start"), "interval_start")
        end_text, duration = self._cell(row, "interval_end"), self._cell(row, "duration")
        if end_text:
            end = _instant(end_text, "interval_end")
        else:
            length = self._durations.get(duration) or self._durations.setdefault(duration, parse_duration(duration))
            end = length.end_from(start, market.tz)
        reading = MeterReading(
            self._cell(row, "party"), market.uri, self._cell(row, "interface"), start, end,
            _injection(self._cell(row, "injection")), energy(self._cell(row, "energy_kwh")),
        )
        return check_reading(reading, self._steps[market.uri], market.tz)


def _instant(text: str, column: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"{column} {text!r} is not an ISO 8601 date and time") from None
    if instant.tzinfo is None:
        raise InvalidValueError(f"{column} {text!r} has no time zone (Z or an offset)")
    return instant


def _injection(text: str) -> bool:
    word = text.lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise InvalidValueError(f"injection {text!r} is not true or false")


def _import(args, settings, stdin) -> int:
    from service.store.audit import record_operator
    from service.store.delivery_import import Staging
    from service.store.markets import list_market_contexts

    if not args.file.is_file():
        raise CommandError(f"{args.file} is not a file")
    with with_connection(settings, write=True) as conn, args.file.open(newline="", encoding="utf-8-sig") as lines:
        markets = {context.uri: context for context in list_market_contexts(conn)}
        if args.market_context is not None and args.market_context not in markets:
            raise CommandError(f"market context {args.market_context} is not registered; nothing imported")
        rows = RowReader(lines, markets, args.market_context)
        staging = Staging(conn)
        chunk: list[tuple[int, MeterReading]] = []
        for item in rows:
            chunk.append(item)
            if len(chunk) == CHUNK:
                staging.copy(chunk)
                chunk.clear()
            if rows.read % PROGRESS == 0:
                say(settings, f"{args.file.name}: {rows.read:,} rows read, {rows.rejected_count:,} rejected")
        if chunk:
            staging.copy(chunk)
        say(settings, f"{args.file.name}: {rows.read:,} rows read; checking parties and repeated readings")
        found, found_count = staging.rejected(SHOWN)
        rejected = sorted(rows.rejected + [(r.line, r.reason) for r in found])[:SHOWN]
        total_rejected = rows.rejected_count + found_count
        if total_rejected:
            for line, reason in rejected:
                say(settings, f"{args.file.name} line {line}: {reason}")
            if total_rejected > len(rejected):
                say(settings, f"... and {total_rejected - len(rejected):,} more rejected rows")
            raise CommandError(f"{total_rejected:,} of {rows.read:,} rows rejected; nothing imported")
        done = staging.merge(args.file.name)
        record_operator(conn, "delivery import", audit.DELIVERY_IMPORTED, Subject(), {
            "file": args.file.name, "readings": done.total, "new": done.new, "corrected": done.corrected,
            "unchanged": done.unchanged,
        })
    print(
        f"imported {args.file.name}: {done.total:,} readings, {done.new:,} new, {done.corrected:,} corrected,"
        f" {done.unchanged:,} unchanged"
    )
    return 0
