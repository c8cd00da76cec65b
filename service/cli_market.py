"""``temix`` commands about the market: market contexts and positions.

    temix market-context add URI [--timezone TZ] [--currency USD] [--energy-unit kWh|MWh]
                             [--option-lead-time PT1H] [--option-granularity PT1H]
    temix market-context list
    temix positions PARTY_ID [--from T] [--to T] [--resolution PT1H] [--plot FILE.png]
    temix db check-positions
    temix demo --url URL --out DIR (the scenario of service/demo/)

Registered by ``service.cli.build_parser``; they open the database like every command.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval, parse_resolution
from service.domain.markets import ENERGY_UNITS, MarketContext


def add_commands(commands, common: argparse.ArgumentParser, db_commands) -> None:
    market = commands.add_parser("market-context", help="register and list market contexts")
    market_commands = market.add_subparsers(dest="market_command", required=True, metavar="COMMAND")
    add = market_commands.add_parser("add", parents=[common], help="register a market context")
    add.add_argument("uri", metavar="URI")
    add.add_argument("--timezone", default="UTC", help="IANA time zone of its calendar (default UTC)")
    add.add_argument("--currency", help="ISO 4217 currency it trades in (default: any)")
    add.add_argument(
        "--energy-unit", default="kWh", choices=list(ENERGY_UNITS),
        help="unit prices are per when a product names none (default kWh)",
    )
    add.add_argument("--option-lead-time", default="PT1H", help="options are exercised at least this long before delivery (default PT1H)")
    add.add_argument("--option-granularity", default="PT1H", help="options are exercised in whole steps of this (default PT1H)")
    add.set_defaults(handler=_market_add)
    market_commands.add_parser("list", parents=[common], help="list the market contexts").set_defaults(
        handler=_market_list
    )

    positions = commands.add_parser(
        "positions", parents=[common], help="print (and plot) a party's position profile"
    )
    positions.add_argument("party_id", metavar="PARTY_ID")
    positions.add_argument("--from", dest="start", help="window start, ISO 8601 (default today 00:00 UTC)")
    positions.add_argument("--to", dest="end", help="window end, ISO 8601 (default start + 1 day)")
    positions.add_argument("--resolution", default="PT1H", help="step, e.g. PT5M, PT1H (default PT1H)")
    positions.add_argument("--plot", metavar="FILE.png", help="also draw the profile to this PNG file")
    positions.set_defaults(handler=_positions)

    check = db_commands.add_parser(
        "check-positions", parents=[common],
        help="recompute every position from the transactions and compare with the stored ones",
    )
    check.set_defaults(handler=_check_positions)

    from service import demo  # the scenario; zeep and matplotlib load only when it runs

    demo_parser = commands.add_parser(
        "demo", parents=[common],
        help="run the REP dynamic-pricing scenario against a running server (needs its --data-dir / DATABASE_URL)",
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run_command)


def _market_add(args, settings, stdin) -> int:
    from service.cli_common import CommandError, with_connection
    from service.store.markets import add_market_context

    try:
        context = MarketContext(
            args.uri, args.timezone, args.currency, args.energy_unit, args.option_lead_time, args.option_granularity
        )
    except InvalidValueError as error:
        raise CommandError(f"{error.description}; nothing changed") from error
    with with_connection(settings, write=True) as conn:
        if not add_market_context(conn, context):
            raise CommandError(f"market context {args.uri} is already registered; nothing changed")
    print(f"added market context {context.uri} ({context.timezone}, {context.currency or 'any currency'}, prices per {context.energy_unit})")
    return 0


def _market_list(args, settings, stdin) -> int:
    from service.cli_common import print_table, with_connection
    from service.store.markets import list_market_contexts

    with with_connection(settings) as conn:
        contexts = list_market_contexts(conn)
    print_table(
        [("MARKET CONTEXT", "TIME ZONE", "CURRENCY", "ENERGY UNIT", "OPTION LEAD", "OPTION STEP")]
        + [
            (c.uri, c.timezone, c.currency or "-", c.energy_unit, c.option_lead_time, c.option_granularity)
            for c in contexts
        ]
    )
    return 0


def _positions(args, settings, stdin) -> int:
    from service import report
    from service.cli_common import CommandError, engine_for, open_database

    try:
        window = _window(args.start, args.end)
        step = parse_resolution(args.resolution)
    except InvalidValueError as error:
        raise CommandError(error.description) from error
    engine = engine_for(open_database(settings))
    try:
        found = report.profiles(engine, args.party_id, window, step)
    finally:
        engine.dispose()
    print(f"positions of {args.party_id} from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC")
    print(report.table(found))
    if args.plot:
        report.plot(found, args.party_id, Path(args.plot))
        print(f"plot written to {args.plot}")
    return 0


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


def _check_positions(args, settings, stdin) -> int:
    from service.cli_common import with_connection
    from service.store.positions import verify

    with with_connection(settings) as conn:
        problems = verify(conn)
    for problem in problems:
        print(problem)
    print("positions agree with the transactions" if not problems else f"{len(problems)} positions disagree")
    return 0 if not problems else 1
