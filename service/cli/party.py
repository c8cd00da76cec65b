"""``temix party`` commands: register parties and edit their memberships.

    temix party add PARTY_ID --password-stdin [--market-context URI]... [--group NAME]...
                   [--service-area NAME]... [--role ROLE]... [--text-only] [--callback-url URL]
    temix party add-registrar PARTY_ID [--password-stdin] [--text-only]
    temix party enroll PARTY_ID [--market-context URI]... [--group NAME]... [--service-area NAME]...
    temix party unenroll PARTY_ID [--market-context URI]... [--group NAME]... [--service-area NAME]...
    temix party role PARTY_ID [--add ROLE]... [--remove ROLE]...
    temix party list

A party's market contexts, groups and service areas decide which EiDistributeTender reach it
(README, "Operations and their rules"); its roles what else it may do (a registrar registers
other parties over /EiRegistration, README "EiRegistration").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import astuple
from typing import TextIO

from service.cli.common import CommandError, print_table, with_connection
from service.config import Settings
from service.domain import audit
from service.domain.audit import Subject
from service.domain.registrations import REGISTRAR, ROLES
from service.domain.matching import exchange_market


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    memberships = argparse.ArgumentParser(add_help=False)
    memberships.add_argument(
        "--market-context",
        action="append",
        default=[],
        metavar="URI",
        help="a market context the party trades in: its distributed tenders reach the party (repeatable)",
    )
    memberships.add_argument(
        "--group", action="append", default=[], metavar="NAME", help="a group (repeatable)"
    )
    memberships.add_argument(
        "--service-area",
        action="append",
        default=[],
        metavar="NAME",
        help="a service area the party is in, e.g. a grid region or postal zone (repeatable)",
    )

    text_only = argparse.ArgumentParser(add_help=False)
    text_only.add_argument(
        "--text-only",
        action="store_true",
        help="store only the scrypt hash: the party can use PasswordText but not PasswordDigest",
    )

    party = commands.add_parser("party", help="register and list parties, edit their memberships")
    party_commands = party.add_subparsers(dest="party_command", required=True, metavar="COMMAND")
    add = party_commands.add_parser(
        "add", parents=[common, memberships, text_only], help="register a party; the password is read from stdin"
    )
    add.add_argument("party_id", metavar="PARTY_ID")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from standard input (one trailing newline is removed)",
    )
    add.add_argument(
        "--role", action="append", default=[], choices=ROLES,
        help="a role: registrar (registers other parties over SOAP), meter (reports meter readings) (repeatable)",
    )
    add.add_argument(
        "--callback-url", metavar="URL", type=_callback_url,
        help="the party's EiTransaction endpoint: its fills at an exchange are pushed there (temix party callback changes it)",
    )
    add.set_defaults(handler=_party_add)
    registrar = party_commands.add_parser(
        "add-registrar", parents=[common, text_only],
        help="register a party with the registrar role and print its credentials (a new random password"
        " unless --password-stdin)",
    )
    registrar.add_argument("party_id", metavar="PARTY_ID")
    registrar.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    registrar.set_defaults(handler=_party_add_registrar)
    role = party_commands.add_parser("role", parents=[common], help="give a party roles or take them away")
    role.add_argument("party_id", metavar="PARTY_ID")
    role.add_argument("--add", action="append", default=[], choices=ROLES, metavar="ROLE",
                      help=f"give this role ({', '.join(ROLES)}) (repeatable)")
    role.add_argument("--remove", action="append", default=[], choices=ROLES, metavar="ROLE",
                      help="take this role away (repeatable)")
    role.set_defaults(handler=_party_role)
    for name, handler, what in (
        ("enroll", _party_enroll, "add a registered party to market contexts, groups or service areas"),
        ("unenroll", _party_unenroll, "take a party out of market contexts, groups or service areas"),
    ):
        edit = party_commands.add_parser(name, parents=[common, memberships], help=what)
        edit.add_argument("party_id", metavar="PARTY_ID")
        edit.set_defaults(handler=handler)
    listing = party_commands.add_parser("list", parents=[common], help="list the parties")
    listing.set_defaults(handler=_party_list)
    return party_commands


# --- commands -------------------------------------------------------------------------------


def _party_add(args, settings: Settings, stdin: TextIO) -> int:
    _store_party(args, settings, read_password(stdin), _memberships(args))
    return 0


def _party_add_registrar(args, settings: Settings, stdin: TextIO) -> int:
    """The registrar's credentials on standard output (``registrar: ID``, ``password: PW``),
    for ``temix demo --registrar ID --registrar-password-stdin`` or a back office."""
    import secrets

    from service.store.parties import Memberships

    password = read_password(stdin) if args.password_stdin else secrets.token_urlsafe(24)
    _store_party(args, settings, password, Memberships.of(roles=[REGISTRAR]))
    print(f"registrar: {args.party_id}")
    if not args.password_stdin:
        print(f"password: {password}")
    print(
        "temix: a registrar may register parties over /EiRegistration; to let it set their passwords"
        " (as `temix demo --url URL --registrar ID --registrar-password-stdin` does), serve with"
        " TEMIX_ALLOW_REGISTRAR_PASSWORDS=1, behind TLS",
        file=sys.stderr,
    )
    return 0


def _store_party(args, settings: Settings, password: str, memberships) -> None:
    from service.auth.keyring import Keyring
    from service.auth.passwords import hash_password
    from service.store.audit import record_operator
    from service.store.party_credentials import hold_server_key
    from service.store.parties import PartyExistsError, add_party, unregistered_market_contexts

    party_id = _checked_name("PARTY_ID", args.party_id)
    if exchange_market(party_id) is not None:  # an exchange's party never authenticates
        raise CommandError(f"{party_id} is reserved for the exchange of a market context (market-context set --exchange)")
    password_hash = hash_password(password)

    try:
        with with_connection(settings, write=True) as conn:
            sealed = None
            if not args.text_only:
                hold_server_key(conn)  # sealed under the current key, not one a rotation retires
                sealed = Keyring.load(settings.secret_key_file).seal(password)
            if not unregistered_market_contexts(conn, [party_id]):  # its publisher ID: see market-context add
                raise CommandError(f"{party_id} is a market context's URI, the ID it publishes under; nothing changed")
            add_party(conn, party_id, password_hash, sealed, *astuple(memberships))
            details = dict(_membership_details(memberships), digest_enabled=not args.text_only)
            record_operator(conn, "party add", audit.PARTY_ADDED, Subject(party_id), details)
            callback_url = getattr(args, "callback_url", None)
            if callback_url is not None:
                from service.store.outbox import set_callback_url

                set_callback_url(conn, party_id, callback_url)
                details = {"callback_url": callback_url, "before": None}
                record_operator(conn, "party add", audit.PARTY_CALLBACK_SET, Subject(party_id), details)
            _warn_unregistered(conn, memberships)
    except PartyExistsError as error:
        raise CommandError(f"{error}; nothing changed") from error
    kinds = "PasswordText" if args.text_only else "PasswordText and PasswordDigest"
    roles = f", roles {', '.join(memberships.roles)}" if memberships.roles else ""
    print(f"added party {party_id} ({kinds}{roles})")


def _party_enroll(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.parties import enroll

    return _edit_memberships(args, settings, enroll, "enrolled in", "already in")


def _party_unenroll(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.parties import unenroll

    return _edit_memberships(args, settings, unenroll, "taken out of", "was not in")


def _edit_memberships(args, settings: Settings, edit, done: str, unchanged: str) -> int:
    """``temix party enroll|unenroll``: says what changed and what already was so (exit 0)."""
    from service.store.audit import record_operator
    from service.store.parties import Memberships, UnknownPartyError

    memberships = _memberships(args)
    if not memberships:
        print(
            f"temix party {args.party_command}: error: name at least one"
            " --market-context, --group or --service-area",
            file=sys.stderr,
        )
        return 2
    try:
        with with_connection(settings, write=True) as conn:
            changed = edit(conn, args.party_id, memberships)
            if changed:
                kind = audit.PARTY_ENROLLED if args.party_command == "enroll" else audit.PARTY_UNENROLLED
                command = f"party {args.party_command}"
                record_operator(conn, command, kind, Subject(args.party_id), _membership_details(changed))
            if args.party_command == "enroll":
                _warn_unregistered(conn, memberships)
    except UnknownPartyError as error:
        raise CommandError(f"{error}; nothing changed") from error
    same = Memberships(
        *(tuple(n for n in asked if n not in got) for asked, got in zip(astuple(memberships), astuple(changed)))
    )
    print(f"party {args.party_id}: {done} {_describe(changed)}" if changed else f"party {args.party_id}: nothing changed")
    if same:
        print(f"party {args.party_id}: {unchanged} {_describe(same)}")
    return 0


def _party_role(args, settings: Settings, stdin: TextIO) -> int:
    """``temix party role``: a role given or taken counts from the party's next request."""
    from service.store.audit import record_operator
    from service.store.parties import Memberships, UnknownPartyError, enroll, unenroll

    if not args.add and not args.remove:
        print("temix party role: error: name at least one --add ROLE or --remove ROLE", file=sys.stderr)
        return 2
    if set(args.add) & set(args.remove):
        raise CommandError(f"a role both added and removed: {', '.join(sorted(set(args.add) & set(args.remove)))}")
    try:
        with with_connection(settings, write=True) as conn:
            added = enroll(conn, args.party_id, Memberships.of(roles=args.add)).roles
            removed = unenroll(conn, args.party_id, Memberships.of(roles=args.remove)).roles
            if added or removed:
                details = {"added": list(added), "removed": list(removed)}
                record_operator(conn, "party role", audit.PARTY_ROLES_CHANGED, Subject(args.party_id), details)
    except UnknownPartyError as error:
        raise CommandError(f"{error}; nothing changed") from error
    for done, names in (("given", added), ("taken away", removed)):
        if names:
            print(f"party {args.party_id}: {done} role{'s' if len(names) > 1 else ''} {', '.join(names)}")
    if not added and not removed:
        print(f"party {args.party_id}: nothing changed")
    return 0


def _party_list(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.parties import list_parties

    with with_connection(settings) as conn:
        parties = list_parties(conn)
    rows = [("PARTY", "MARKET CONTEXTS", "GROUPS", "SERVICE AREAS", "ROLES", "DIGEST")] + [
        (
            record.party_id,
            ",".join(record.market_contexts) or "-",
            ",".join(record.groups) or "-",
            ",".join(record.service_areas) or "-",
            ",".join(record.roles) or "-",
            "yes" if record.digest_enabled else "no",
        )
        for record in parties
    ]
    print_table(rows)
    return 0


# --- helpers --------------------------------------------------------------------------------


def read_password(stdin: TextIO) -> str:
    """The password on standard input, without one trailing newline; refuses an empty one."""
    password = stdin.read()
    if password.endswith("\r\n"):
        password = password[:-2]
    elif password.endswith("\n"):
        password = password[:-1]
    if not password:
        raise CommandError("the password read from standard input is empty; nothing changed")
    return password


def _memberships(args):
    """The --market-context, --group, --service-area (and --role) options, checked, as Memberships."""
    from service.store.parties import Memberships

    return Memberships.of(
        (_checked_name("--market-context", value) for value in args.market_context),
        (_checked_name("--group", value) for value in args.group),
        (_checked_name("--service-area", value) for value in args.service_area),
        getattr(args, "role", ()),
    )


def _membership_details(memberships) -> dict:
    """The audit details of memberships: the kinds that name something."""
    kinds = ("market_contexts", "groups", "service_areas")
    return {kind: list(names) for kind, names in zip(kinds, astuple(memberships)) if names}


def _describe(memberships) -> str:
    """'market context U; groups a, b; service area z'."""
    parts = []
    for singular, names in zip(("market context", "group", "service area", "role"), astuple(memberships)):
        if names:
            parts.append(f"{singular}{'s' if len(names) > 1 else ''} {', '.join(names)}")
    return "; ".join(parts)


def _warn_unregistered(conn, memberships) -> None:
    from service.store.parties import unregistered_market_contexts

    for uri in unregistered_market_contexts(conn, memberships.market_contexts):
        print(
            f"temix: warning: market context {uri} is not registered: tenders in it are refused"
            f" until `temix market-context add {uri}`",
            file=sys.stderr,
        )


def _callback_url(text: str) -> str:
    from service.cli.outbox import callback_url_arg

    return callback_url_arg(text)


def _checked_name(what: str, value: str) -> str:
    if not value or value != value.strip() or any(c.isspace() or c == "," for c in value):
        raise CommandError(f"{what} must be non-empty without spaces or commas: {value!r}")
    return value
