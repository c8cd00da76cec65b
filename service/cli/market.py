"""``temix market-context`` commands: register and list market contexts.

    temix market-context add URI [--timezone TZ] [--currency USD] [--energy-unit kWh|MWh]
                             [--option-lead-time PT1H] [--option-granularity PT1H] [--exchange]
    temix market-context set URI --exchange | --no-exchange
    temix market-context list
"""

from __future__ import annotations

import argparse

from service.cli.common import CommandError, print_table, with_connection
from service.domain.errors import InvalidValueError
from service.domain.markets import ENERGY_UNITS, MarketContext


def add_commands(commands, common: argparse.ArgumentParser) -> None:
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
    add.add_argument(
        "--exchange", action="store_true",
        help="run an exchange: tenders addressed to URI#exchange are matched continuously",
    )
    add.set_defaults(handler=_market_add)
    change = market_commands.add_parser("set", parents=[common], help="change a market context")
    change.add_argument("uri", metavar="URI")
    change.add_argument(
        "--exchange", action=argparse.BooleanOptionalAction, required=True,
        help="start (--exchange) or stop (--no-exchange) its exchange; orders resting in its books stay there",
    )
    change.set_defaults(handler=_market_set)
    market_commands.add_parser("list", parents=[common], help="list the market contexts").set_defaults(
        handler=_market_list
    )


def _market_add(args, settings, stdin) -> int:
    from service.store.markets import add_market_context

    try:
        context = MarketContext(
            args.uri, args.timezone, args.currency, args.energy_unit, args.option_lead_time, args.option_granularity,
            exchange=args.exchange,
        )
    except InvalidValueError as error:
        raise CommandError(f"{error.description}; nothing changed") from error
    with with_connection(settings, write=True) as conn:
        if not add_market_context(conn, context):
            raise CommandError(f"market context {args.uri} is already registered; nothing changed")
    print(f"added market context {context.uri} ({context.timezone}, {context.currency or 'any currency'}, prices per {context.energy_unit})")
    if context.exchange:
        print(f"its exchange trades as {context.exchange_id}")
    return 0


def _market_set(args, settings, stdin) -> int:
    from service.store.markets import set_exchange

    with with_connection(settings, write=True) as conn:
        if not set_exchange(conn, args.uri, args.exchange):
            raise CommandError(f"market context {args.uri} is not registered; nothing changed")
    exchange_id = MarketContext(args.uri).exchange_id
    print(f"{args.uri} runs an exchange as {exchange_id}" if args.exchange else f"{args.uri} runs no exchange")
    return 0


def _market_list(args, settings, stdin) -> int:
    from service.store.markets import list_market_contexts

    with with_connection(settings) as conn:
        contexts = list_market_contexts(conn)
    print_table(
        [("MARKET CONTEXT", "TIME ZONE", "CURRENCY", "ENERGY UNIT", "OPTION LEAD", "OPTION STEP", "EXCHANGE")]
        + [
            (c.uri, c.timezone, c.currency or "-", c.energy_unit, c.option_lead_time, c.option_granularity,
             c.exchange_id if c.exchange else "-")
            for c in contexts
        ]
    )
    return 0
