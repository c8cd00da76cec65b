"""``temix market-context`` commands: register and list market contexts.

    temix market-context add URI [--timezone TZ] [--currency USD] [--energy-unit kWh|MWh]
                             [--option-lead-time PT1H] [--option-granularity PT1H] [--exchange]
                             [--settlement-interval PT1H] [--balancing-party ID] [--price-grace PT5M]
    temix market-context set URI [--exchange | --no-exchange] [--settlement-interval PT15M]
                             [--balancing-party ID] [--price-grace PT5M]
    temix market-context list
"""

from __future__ import annotations

import argparse

from service.cli.common import CommandError, print_table, with_connection
from service.domain import audit
from service.domain.audit import Subject
from service.domain.deliveries import settlement_step
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
    add.add_argument(
        "--settlement-interval", default="PT1H",
        help="length of its meter readings' intervals, dividing a day: PT5M, PT15M, PT1H (default PT1H)",
    )
    _balancing_options(add, "PT0S")
    add.set_defaults(handler=_market_add)
    change = market_commands.add_parser("set", parents=[common], help="change a market context")
    change.add_argument("uri", metavar="URI")
    change.add_argument(
        "--exchange", action=argparse.BooleanOptionalAction,
        help="start (--exchange) or stop (--no-exchange) its exchange; orders resting in its books stay there",
    )
    change.add_argument(
        "--settlement-interval",
        help="length of its meter readings' intervals from now on (PT5M, PT15M, PT1H...)",
    )
    _balancing_options(change, None)
    change.set_defaults(handler=_market_set)
    market_commands.add_parser("list", parents=[common], help="list the market contexts").set_defaults(
        handler=_market_list
    )


def _balancing_options(parser, grace_default: str | None) -> None:
    parser.add_argument(
        "--balancing-party", metavar="PARTY_ID",
        help="the registered party that settles imbalances (temix settle): the counterparty of every imbalance transaction",
    )
    parser.add_argument(
        "--price-grace", default=grace_default, metavar="DURATION",
        help="its real-time price for an interval may be quoted until this long after the interval ends"
        + (" (default PT0S)" if grace_default else ""),
    )


def _checked_balancing(conn, args) -> None:
    from service.store.parties import get_party_credentials

    if args.price_grace is not None:
        try:
            MarketContext(args.uri, price_grace=args.price_grace)
        except InvalidValueError as error:
            raise CommandError(f"--price-grace: {error.description}; nothing changed") from error
    if args.balancing_party is not None and get_party_credentials(conn, args.balancing_party) is None:
        raise CommandError(f"balancing party {args.balancing_party} is not a registered party; nothing changed")


def _market_add(args, settings, stdin) -> int:
    from service.store.audit import record_operator
    from service.store.markets import add_market_context
    from service.store.parties import get_party_credentials

    currency = _checked_currency(args.currency, settings) if args.currency else None
    try:
        context = MarketContext(
            args.uri, args.timezone, currency, args.energy_unit, args.option_lead_time, args.option_granularity,
            exchange=args.exchange, settlement_interval=args.settlement_interval,
            balancing_party_id=args.balancing_party, price_grace=args.price_grace,
        )
    except InvalidValueError as error:
        raise CommandError(f"{error.description}; nothing changed") from error
    with with_connection(settings, write=True) as conn:
        _checked_balancing(conn, args)
        if get_party_credentials(conn, context.uri) is not None:  # the URI is the ID it publishes under
            raise CommandError(f"{args.uri} is a party's ID: a market context publishes under its URI; nothing changed")
        if not add_market_context(conn, context):
            raise CommandError(f"market context {args.uri} is already registered; nothing changed")
        details = {
            "market_context": context.uri, "timezone": context.timezone, "currency": context.currency,
            "energy_unit": context.energy_unit, "option_lead_time": context.option_lead_time,
            "option_granularity": context.option_granularity,
            "settlement_interval": context.settlement_interval,
        }
        if context.balancing_party_id is not None:  # settlement's settings, when given
            details.update(balancing_party=context.balancing_party_id, price_grace=context.price_grace)
        record_operator(conn, "market-context add", audit.MARKET_CONTEXT_ADDED, Subject(), details)
    print(f"added market context {context.uri} ({context.timezone}, {context.currency or 'any currency'}, prices per {context.energy_unit})")
    if context.exchange:
        print(f"its exchange trades as {context.exchange_id}")
    return 0


def _market_set(args, settings, stdin) -> int:
    from service.store.audit import record_operator
    from service.store.markets import set_balancing, set_exchange, set_settlement_interval

    balancing = args.balancing_party is not None or args.price_grace is not None
    if args.exchange is None and args.settlement_interval is None and not balancing:
        raise CommandError(
            "say what to change: --exchange, --no-exchange, --settlement-interval, --balancing-party or"
            " --price-grace; nothing changed"
        )
    if args.settlement_interval is not None:
        try:
            settlement_step(args.settlement_interval)
        except InvalidValueError as error:
            raise CommandError(f"{error.description}; nothing changed") from error
    details = {"market_context": args.uri}
    with with_connection(settings, write=True) as conn:
        found = True
        if args.exchange is not None:
            found = set_exchange(conn, args.uri, args.exchange)
            details["exchange"] = args.exchange
        if found and args.settlement_interval is not None:
            found = set_settlement_interval(conn, args.uri, args.settlement_interval)
            details["settlement_interval"] = args.settlement_interval
        if found and balancing:
            _checked_balancing(conn, args)
            found = set_balancing(conn, args.uri, args.balancing_party, args.price_grace)
            details.update({k: v for k, v in (("balancing_party", args.balancing_party),
                                               ("price_grace", args.price_grace)) if v is not None})
        if not found:
            raise CommandError(f"market context {args.uri} is not registered; nothing changed")
        record_operator(conn, "market-context set", audit.MARKET_CONTEXT_SET, Subject(), details)
    if args.exchange is not None:
        exchange_id = MarketContext(args.uri).exchange_id
        print(f"{args.uri} runs an exchange as {exchange_id}" if args.exchange else f"{args.uri} runs no exchange")
    if args.settlement_interval is not None:
        print(f"{args.uri} settles in intervals of {args.settlement_interval}")
    if args.balancing_party is not None:
        print(f"{args.uri} settles imbalances with {args.balancing_party}")
    if args.price_grace is not None:
        print(f"{args.uri} takes real-time prices quoted up to {args.price_grace} after an interval ends")
    return 0


def _market_list(args, settings, stdin) -> int:
    from service.store.markets import list_market_contexts

    with with_connection(settings) as conn:
        contexts = list_market_contexts(conn)
    print_table(
        [("MARKET CONTEXT", "TIME ZONE", "CURRENCY", "ENERGY UNIT", "OPTION LEAD", "OPTION STEP", "EXCHANGE",
          "SETTLEMENT", "BALANCING", "GRACE")]
        + [
            (c.uri, c.timezone, c.currency or "-", c.energy_unit, c.option_lead_time, c.option_granularity,
             c.exchange_id if c.exchange else "-", c.settlement_interval,
             c.balancing_party_id or "-", c.price_grace)
            for c in contexts
        ]
    )
    return 0


def _checked_currency(code: str, settings) -> str:
    """The code in capitals, if the schemas' currency list (emix:currency) has it: tenders and
    the market context's terms carry it as emix:currency, which takes those codes only."""
    from lxml import etree

    code = code.strip().upper()
    listing = settings.schema_dir / "oasis" / "cts-xsd" / "clm5ISO42173A.xsd"
    if listing.exists():
        known = {e.get("value") for e in etree.parse(str(listing)).iter("{http://www.w3.org/2001/XMLSchema}enumeration")}
        if code not in known:
            raise CommandError(f"{code} is not an ISO 4217 currency code of the schemas (e.g. USD, EUR); nothing changed")
    return code
