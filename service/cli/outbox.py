"""``temix outbox`` and ``temix party callback``: push of fills to parties' own endpoints.

    temix party callback PARTY_ID [--url URL | --clear]
    temix outbox [--party ID] [--state pending|failed|delivered] [--format table|json] [--limit N]
    temix outbox push [--party ID] [--follow]

A party with a callback URL is sent an EiCreateTransaction for each of its fills at the
exchange (README "Push"); ``temix serve`` runs the worker that sends them, ``temix outbox
push`` sends what is due now (for a serve run with --no-push, or to see it happen).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TextIO

from service.cli.common import CommandError, engine_for, open_database, print_table, with_connection
from service.config import Settings
from service.domain import audit
from service.domain.audit import Subject
from service.domain.intervals import utc_text
from service.domain.push import STATES, check_callback_url


def add_commands(commands, party_commands, common: argparse.ArgumentParser) -> None:
    callback = party_commands.add_parser(
        "callback", parents=[common], help="show, set or clear the URL a party's fills are pushed to"
    )
    callback.add_argument("party_id", metavar="PARTY_ID")
    target = callback.add_mutually_exclusive_group()
    target.add_argument(
        "--url", type=callback_url_arg, metavar="URL",
        help="the party's EiTransaction endpoint (http or https): each fill at an exchange is sent"
        " there as an EiCreateTransaction",
    )
    target.add_argument("--clear", action="store_true", help="push nothing more (messages waiting stay, unsent)")
    callback.set_defaults(handler=_callback)

    listing = commands.add_parser(
        "outbox", parents=[common], help="the messages pushed (or to push) to parties' callback URLs"
    )
    listing.add_argument("--party", metavar="ID", help="only this party's messages")
    listing.add_argument("--state", choices=STATES, help="pending (not tried yet), failed (retried when due) or delivered")
    listing.add_argument("--format", choices=("table", "json"), default="table", help="a table (default) or JSON Lines")
    listing.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N messages, oldest first (default 1000)")
    listing.set_defaults(handler=_list)
    actions = listing.add_subparsers(dest="outbox_command", metavar="COMMAND")
    push = actions.add_parser("push", parents=[common], help="send every message due now, then stop")
    push.add_argument("--party", metavar="ID", help="only this party's messages")
    push.add_argument(
        "--follow", action="store_true",
        help="keep sending, a pass every second, until stopped (what temix serve runs beside its workers)",
    )
    push.set_defaults(handler=_push)


def callback_url_arg(text: str) -> str:
    try:
        return check_callback_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _callback(args, settings: Settings, stdin: TextIO) -> int:
    if args.url is None and not args.clear:
        from service.store.outbox import callback_url_of

        with with_connection(settings) as conn:
            found, url = callback_url_of(conn, args.party_id)
        if not found:
            raise CommandError(f"no party {args.party_id}")
        print(f"party {args.party_id}: " + (f"fills pushed to {url}" if url else "no callback URL: fills are not pushed"))
        return 0
    set_callback(settings, args.party_id, None if args.clear else args.url, "party callback")
    return 0


def set_callback(settings: Settings, party_id: str, url: str | None, command: str) -> None:
    """Set or clear (None) the party's callback URL, audited if it changed; says what it did."""
    from service.store.audit import record_operator
    from service.store.outbox import set_callback_url

    with with_connection(settings, write=True) as conn:
        found, before = set_callback_url(conn, party_id, url)
        if not found:
            raise CommandError(f"no party {party_id}; nothing changed")
        if before != url:
            details = {"callback_url": url, "before": before}
            record_operator(conn, command, audit.PARTY_CALLBACK_SET, Subject(party_id), details)
    same = "" if before != url else " (unchanged)"
    print(f"party {party_id}: " + (f"fills pushed to {url}" if url else "no callback URL: fills are not pushed") + same)


def _list(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.outbox import list_outbox

    with with_connection(settings) as conn:
        rows = list_outbox(conn, args.party, args.state, max(args.limit, 0))
    if args.format == "json":
        for row in rows:
            print(json.dumps({
                "id": row.pk, "party_id": row.party_id, "sender_id": row.sender_id,
                "transaction_id": row.transaction_id, "request_id": row.request_id, "state": row.state,
                "created_at": _instant(row.created_at), "attempts": row.attempts,
                "next_attempt_at": None if row.delivered_at else _instant(row.next_attempt_at),
                "last_error": row.last_error, "delivered_at": _instant(row.delivered_at),
            }))
        return 0
    header = ("ID", "PARTY", "TRANSACTION", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "DELIVERED", "LAST ERROR")
    print_table([header] + [
        (
            str(row.pk), row.party_id, row.transaction_id, row.state, str(row.attempts),
            "-" if row.delivered_at else _instant(row.next_attempt_at), _instant(row.delivered_at) or "-",
            row.last_error or "-",
        )
        for row in rows
    ])
    return 0


def _push(args, settings: Settings, stdin: TextIO) -> int:
    from service.push import push_until_done

    engine = engine_for(open_database(settings))
    try:
        if args.follow:
            return _follow(engine, settings, args.party)
        tally = push_until_done(engine, settings, args.party)
    finally:
        engine.dispose()
    print(f"delivered {tally.delivered}, failed {tally.failed} (retried when due; see temix outbox --state failed)")
    return 0 if tally.failed == 0 else 1


def _follow(engine, settings: Settings, party_id: str | None) -> int:
    from service.companion import serve_pid
    from service.push import follow

    try:
        follow(engine, settings, serve_pid(), party_id)  # beside temix serve: until it is gone
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, SIGTERM: a pass cut short is sent again later
        pass
    return 0


def _instant(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)
