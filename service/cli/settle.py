"""``temix settle`` and ``temix statement``: settlement of metered delivery, and a party's
statement for the back office.

    temix settle --market-context URI --from T --to T [--as-of T]
    temix settle --every PT5M [--lag PT15M]
    temix statement PARTY_ID --from T --to T [--format table|csv|json] [--plot FILE.png]

A settlement run is one database transaction (``service.handlers.settlement``); the scheduled
form (``run_scheduled``) runs as ``temix settle --every``, by itself or beside ``temix serve
--settle-every``.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.cli.common import CommandError, engine_for, open_database, require_extra
from service.domain.errors import InvalidValueError, TemixError
from service.domain.intervals import Interval

_log = logging.getLogger("temix")


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    settle = commands.add_parser("settle", parents=[common], help="settle metered delivery against positions")
    settle.add_argument("--market-context", metavar="URI")
    settle.add_argument("--from", dest="start", help="window start, ISO 8601 (UTC unless an offset is given)")
    settle.add_argument("--to", dest="end", help="window end, ISO 8601")
    settle.add_argument(
        "--every", metavar="DURATION",
        help="instead of one window: settle every market context that names a balancing party this often, from"
        " the start of yesterday UTC to now less --lag, until stopped (what serve --settle-every runs)",
    )
    settle.add_argument("--lag", metavar="DURATION", default="PT15M", help="with --every: meters report late (default PT15M)")
    settle.add_argument(
        "--as-of", metavar="T",
        help="settle as if the time were T (a rehearsal, or the demo's delivery day, which is still ahead):"
        " intervals that ended by T less the price grace count as final (default: now)",
    )
    settle.set_defaults(handler=_settle)
    statement = commands.add_parser("statement", parents=[common], help="a party's statement for a window")
    statement.add_argument("party_id", metavar="PARTY_ID")
    statement.add_argument("--from", dest="start", required=True, help="window start, ISO 8601")
    statement.add_argument("--to", dest="end", required=True, help="window end, ISO 8601")
    statement.add_argument("--format", choices=("table", "csv", "json"), default="table")
    statement.add_argument("--plot", metavar="FILE.png", help="also draw position against delivery (needs the demo extra)")
    statement.set_defaults(handler=_statement)


def _window(args) -> Interval:
    from service.cli.positions import _instant

    try:
        return Interval(_instant(args.start), _instant(args.end))
    except InvalidValueError as error:
        raise CommandError(error.description) from error


def _settle(args, settings, stdin) -> int:
    if args.every is not None:
        return _settle_every(args, settings)
    missing = [name for name, value in (("--market-context", args.market_context), ("--from", args.start), ("--to", args.end)) if value is None]
    if missing:
        raise CommandError(f"give {', '.join(missing)} (or --every DURATION for the scheduled form)")
    window = _window(args)
    engine = engine_for(open_database(settings))
    try:
        markets = _markets(engine)
        if args.market_context not in markets:
            raise CommandError(f"market context {args.market_context} is not registered; nothing settled")
        settled = settle_once(engine, markets[args.market_context], window, _as_of(args.as_of), "operator:settle")
    finally:
        engine.dispose()
    print(describe(settled))
    for unsettled in settled.unsettled:
        print(f"  not settled ({unsettled.reason}): {unsettled.party_id} at {unsettled.interface}"
              f" {unsettled.interval.start:%Y-%m-%d %H:%M}+{unsettled.interval.duration_text()}")
    return 0


def _as_of(text: str | None) -> datetime:
    from service.cli.positions import _instant

    if text is None:
        return datetime.now(UTC)
    try:
        return _instant(text)
    except InvalidValueError as error:
        raise CommandError(error.description) from error


def _rested(every: timedelta, stop, parent_pid: int | None) -> bool:
    """Wait ``every``; True when the schedule is to end instead: ``stop`` was set, or the
    ``temix serve`` this runs beside is gone (looked at every second)."""
    from service.companion import serve_is_gone

    deadline = time.monotonic() + every.total_seconds()
    while (left := deadline - time.monotonic()) > 0:
        if stop is not None and stop.wait(min(left, 1.0)):
            return True
        if stop is None:
            time.sleep(min(left, 1.0))
        if serve_is_gone(parent_pid):
            return True
    return False


def _settle_every(args, settings) -> int:
    from service.companion import serve_pid
    from service.domain.markets import exact_duration

    try:
        every, lag = exact_duration(args.every), exact_duration(args.lag, allow_zero=True)
    except InvalidValueError as error:
        raise CommandError(f"--every/--lag: {error.description}") from error
    try:
        run_scheduled(replace(settings, database_url=open_database(settings)), every, lag, parent_pid=serve_pid())
    except KeyboardInterrupt:  # Ctrl-C: a run cut short wrote nothing
        pass
    return 0


def settle_once(engine, market, window: Interval, now: datetime, actor: str):
    """One settlement run of a market context over a window: one database transaction."""
    from service.domain.settlement import Settle
    from service.handlers.settlement import SettleContext, settle_market
    from service.soap.settlement import SettlementForms
    from service.store.uow import UnitOfWork

    run_id = f"settle-{uuid.uuid4()}"
    try:
        with UnitOfWork(engine) as uow:
            settled = settle_market(Settle(market.uri, window), uow, SettleContext(actor, run_id, now, market, SettlementForms()))
            uow.commit()
    except TemixError as error:
        raise CommandError(f"{error.description}; nothing settled") from error
    return settled


def describe(settled) -> str:
    intervals = settled.intervals
    span = f"{intervals[0].start:%Y-%m-%d %H:%M} to {intervals[-1].end:%Y-%m-%d %H:%M} UTC" if intervals else "no interval"
    return (
        f"settled {len(intervals)} intervals ({span}), run {settled.run_id}: {len(settled.transactions)} imbalance"
        f" transactions, {settled.balanced} already balanced, {len(settled.unsettled)} not settled,"
        f" {settled.pending} intervals waiting for their price to be final"
    )


def _markets(engine) -> dict:
    from service.store.markets import list_market_contexts

    with engine.connect() as conn:
        return {market.uri: market for market in list_market_contexts(conn)}


def _statement(args, settings, stdin) -> int:
    from service import statement as statements
    from service.store.parties import get_party_credentials

    window = _window(args)
    if args.plot:
        require_extra("demo", "matplotlib", needed_by="--plot")
    engine = engine_for(open_database(settings))
    try:
        with engine.connect() as conn:
            if get_party_credentials(conn, args.party_id) is None:
                raise CommandError(f"party {args.party_id} is unknown in this database (`temix party list`)")
        found = statements.build(engine, args.party_id, window, _markets(engine))
    finally:
        engine.dispose()
    formats = {"table": statements.as_table, "csv": statements.as_csv, "json": statements.as_json}
    print(formats[args.format](found))
    if args.plot:
        statements.plot(found, Path(args.plot))
        if args.format == "table":  # csv and json stay machine-readable
            print(f"plot written to {args.plot}")
    return 0


# ------------------------------------------------------------------ the scheduled form


def run_scheduled(settings, every: timedelta, lag: timedelta, stop=None, parent_pid: int | None = None) -> None:
    """``temix settle --every`` (and ``temix serve --settle-every``): every ``every``, settle each market context that names a
    balancing party, from the start of the previous UTC day to now less ``lag`` (whatever was
    settled already settles to nothing; a corrected reading settles its difference). Runs of
    several servers queue on each market context's settlement lock."""
    if not logging.getLogger().handlers:  # a process of its own: log as the server does
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = engine_for(settings.database_url)
    try:
        while True:
            now = datetime.now(UTC)
            start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            end = now - lag
            for market in _markets(engine).values():
                if market.balancing_party_id is None or end <= start:
                    continue
                try:
                    settled = settle_once(engine, market, Interval(start, end), now, "operator:serve")
                    if settled.transactions:
                        _log.info("settlement of %s: %s", market.uri, describe(settled))
                except Exception:  # a failed run writes nothing; the next one tries again
                    _log.exception("settlement of %s failed", market.uri)
            if _rested(every, stop, parent_pid):
                return
    finally:
        engine.dispose()
