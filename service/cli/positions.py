"""``temix positions``: a party's position profile as a table, and as a plot.

    temix positions PARTY_ID [--from T] [--to T] [--resolution PT1H] [--plot FILE.png]

``--plot`` draws with matplotlib, of the ``demo`` extra.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.cli.common import CommandError, engine_for, open_database, require_extra
from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval, parse_resolution


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    positions = commands.add_parser(
        "positions", parents=[common], help="print (and plot) a party's position profile"
    )
    positions.add_argument("party_id", metavar="PARTY_ID")
    positions.add_argument("--from", dest="start", help="window start, ISO 8601 (default today 00:00 UTC)")
    positions.add_argument("--to", dest="end", help="window end, ISO 8601 (default start + 1 day)")
    positions.add_argument("--resolution", default="PT1H", help="step, e.g. PT5M, PT1H (default PT1H)")
    positions.add_argument(
        "--plot", metavar="FILE.png", help="also draw the profile to this PNG file (needs the demo extra)"
    )
    positions.set_defaults(handler=_positions)


def _positions(args, settings, stdin) -> int:
    from service import report

    try:
        window = _window(args.start, args.end)
        step = parse_resolution(args.resolution)
    except InvalidValueError as error:
        raise CommandError(error.description) from error
    if args.plot:
        require_extra("demo", "matplotlib", needed_by="--plot")
    engine = engine_for(open_database(settings))
    try:
        _check_registered(engine, args.party_id)
        found = report.profiles(engine, args.party_id, window, step)
        currency_of = report.currencies(engine) if args.plot else {}
    finally:
        engine.dispose()
    defaulted = " (the default window: today, UTC)" if not args.start and not args.end else ""
    print(
        f"positions of {args.party_id} from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
        f"{defaulted}"
    )
    print(report.table(found))
    if not found:
        later = window.start + timedelta(days=1)
        print(f"another window: --from {later:%Y-%m-%d} [--to ...] (ISO 8601; UTC unless an offset is given)")
    if args.plot:
        report.plot(found, args.party_id, Path(args.plot), window, currency_of)
        print(f"plot written to {args.plot}")
    return 0


def _check_registered(engine, party_id: str) -> None:
    from service.store.parties import get_party_credentials

    with engine.connect() as conn:
        if get_party_credentials(conn, party_id) is None:
            raise CommandError(
                f"party {party_id} is unknown in this database: `temix party list` shows the registered"
                " parties (give the server's --data-dir or DATABASE_URL if it runs elsewhere)"
            )


def _window(start_text: str | None, end_text: str | None) -> Interval:
    start = _instant(start_text) if start_text else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = _instant(end_text) if end_text else start + timedelta(days=1)
    return Interval(start, end)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"not an ISO 8601 date and time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
