"""``temix party`` credential commands and ``temix secret``: a party's credentials over its life.

    temix party passwd PARTY_ID --password-stdin [--text-only]
    temix party disable PARTY_ID
    temix party enable PARTY_ID
    temix party set PARTY_ID [--require-wssecurity yes|no] [--callback-url URL | --no-callback-url]
    temix party cert add PARTY_ID (--fingerprint SHA256 | --pem FILE)
    temix party cert list [PARTY_ID]
    temix party cert remove PARTY_ID FINGERPRINT
    temix secret rotate

Each command is one transaction (``service.store.party_credentials`` does the work and says
what changed); running workers see the change within the credential cache time
(TEMIX_CREDENTIAL_CACHE, README "Transport security").
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from service.cli.common import CommandError, print_table, with_connection
from service.config import Settings
from service.domain import audit
from service.domain.audit import Subject


def add_commands(commands, party_commands, common: argparse.ArgumentParser) -> None:
    passwd = party_commands.add_parser("passwd", parents=[common], help="give a party a new password, read from stdin")
    passwd.add_argument("party_id", metavar="PARTY_ID")
    passwd.add_argument(
        "--password-stdin", action="store_true", required=True,
        help="read the password from standard input (one trailing newline is removed)",
    )
    passwd.add_argument(
        "--text-only", action="store_true",
        help="store only the scrypt hash (PasswordText only); without it a party that could use"
        " PasswordDigest still can, with the new password",
    )
    passwd.set_defaults(handler=_passwd)
    for name, handler, what in (
        ("disable", _disable, "disable a party: it authenticates nowhere; its standing tenders are cancelled"),
        ("enable", _enable, "enable a disabled party (its cancelled tenders stay cancelled)"),
    ):
        command = party_commands.add_parser(name, parents=[common], help=what)
        command.add_argument("party_id", metavar="PARTY_ID")
        command.set_defaults(handler=handler)
    setting = party_commands.add_parser("set", parents=[common], help="change a party's settings")
    setting.add_argument("party_id", metavar="PARTY_ID")
    setting.add_argument(
        "--require-wssecurity", choices=("yes", "no"),
        help="whether a request over a client certificate bound to the party must carry the"
        " party's WS-Security UsernameToken as well (yes, the default of every party) or is"
        " authenticated by the certificate alone (no)",
    )
    callback = setting.add_mutually_exclusive_group()
    callback.add_argument(
        "--callback-url", metavar="URL", type=_callback_url,
        help="the party's EiTransaction endpoint, where its fills are pushed (as temix party callback --url)",
    )
    callback.add_argument("--no-callback-url", action="store_true", help="push nothing more (as temix party callback --clear)")
    setting.set_defaults(handler=_set)

    cert = party_commands.add_parser("cert", help="bind client certificates to parties (mutual TLS)")
    cert_commands = cert.add_subparsers(dest="cert_command", required=True, metavar="COMMAND")
    cert_add = cert_commands.add_parser("add", parents=[common], help="bind a client certificate to a party")
    cert_add.add_argument("party_id", metavar="PARTY_ID")
    source = cert_add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--fingerprint", metavar="SHA256",
        help="the SHA-256 fingerprint of the certificate's DER encoding, 64 hex digits (colons allowed,"
        " as `openssl x509 -noout -fingerprint -sha256` prints it)",
    )
    source.add_argument("--pem", metavar="FILE", help="the certificate, PEM: its fingerprint is bound")
    cert_add.set_defaults(handler=_cert_add)
    cert_list = cert_commands.add_parser("list", parents=[common], help="list the bound certificates")
    cert_list.add_argument("party_id", metavar="PARTY_ID", nargs="?")
    cert_list.set_defaults(handler=_cert_list)
    cert_remove = cert_commands.add_parser("remove", parents=[common], help="remove a certificate's binding")
    cert_remove.add_argument("party_id", metavar="PARTY_ID")
    cert_remove.add_argument("fingerprint", metavar="FINGERPRINT")
    cert_remove.set_defaults(handler=_cert_remove)

    secret = commands.add_parser("secret", help="the server key that seals PasswordDigest secrets")
    secret_commands = secret.add_subparsers(dest="secret_command", required=True, metavar="COMMAND")
    rotate = secret_commands.add_parser(
        "rotate", parents=[common],
        help="make a new server key and re-seal every party's PasswordDigest secret under it, while serving",
    )
    rotate.set_defaults(handler=_rotate)


# --- commands -------------------------------------------------------------------------------


def _passwd(args, settings: Settings, stdin: TextIO) -> int:
    from service.auth.keyring import Keyring
    from service.auth.passwords import hash_password
    from service.cli.party import read_password
    from service.store.party_credentials import digest_enabled, set_password

    password = read_password(stdin)
    password_hash = hash_password(password)
    with _party_command(settings, args.party_id) as conn:
        digest = not args.text_only and digest_enabled(conn, args.party_id)
        seal = (lambda: Keyring.load(settings.secret_key_file).seal(password)) if digest else None
        set_password(conn, args.party_id, password_hash, seal)
        _record(conn, "party passwd", audit.PARTY_PASSWORD_CHANGED, args.party_id, {"digest_enabled": digest})
    kinds = "PasswordText and PasswordDigest" if digest else "PasswordText"
    print(f"party {args.party_id}: new password ({kinds})")
    return 0


def _disable(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.party_credentials import disable_party

    with _party_command(settings, args.party_id) as conn:
        cancelled = disable_party(conn, args.party_id, datetime.now(UTC))
        if cancelled is not None:
            _record(conn, "party disable", audit.PARTY_DISABLED, args.party_id, {"cancelled_tenders": len(cancelled)})
            for tender_id in cancelled:  # no longer standing, as if cancelled: said so tender by tender
                subject = Subject(args.party_id, tender_id=tender_id)
                _record(conn, "party disable", audit.TENDER_CANCELLED, subject, {"reason": "party disabled"})
    if cancelled is None:
        print(f"party {args.party_id}: already disabled")
        return 0
    print(f"party {args.party_id}: disabled; it authenticates nowhere (by password or certificate)")
    print(f"party {args.party_id}: {len(cancelled)} standing tender(s) cancelled{': ' if cancelled else ''}{', '.join(cancelled)}")
    return 0


def _enable(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.party_credentials import enable_party

    with _party_command(settings, args.party_id) as conn:
        changed = enable_party(conn, args.party_id)
        if changed:
            _record(conn, "party enable", audit.PARTY_ENABLED, args.party_id)
    print(f"party {args.party_id}: {'enabled' if changed else 'already enabled'}")
    return 0


def _set(args, settings: Settings, stdin: TextIO) -> int:
    from service.cli.outbox import set_callback

    if args.require_wssecurity is None and args.callback_url is None and not args.no_callback_url:
        print("temix party set: error: name --require-wssecurity, --callback-url or --no-callback-url", file=sys.stderr)
        return 2
    if args.callback_url is not None or args.no_callback_url:
        set_callback(settings, args.party_id, args.callback_url, "party set")
    if args.require_wssecurity is not None:
        return _set_require_wssecurity(args, settings)
    return 0


def _callback_url(text: str) -> str:
    from service.cli.outbox import callback_url_arg

    return callback_url_arg(text)


def _set_require_wssecurity(args, settings: Settings) -> int:
    from service.store.party_credentials import set_require_wssecurity

    required = args.require_wssecurity == "yes"
    with _party_command(settings, args.party_id) as conn:
        changed = set_require_wssecurity(conn, args.party_id, required)
        if changed:
            _record(conn, "party set", audit.PARTY_WSSECURITY_SET, args.party_id, {"require_wssecurity": required})
    what = "a UsernameToken as well" if required else "its certificate alone"
    print(f"party {args.party_id}: over its client certificate it authenticates with {what}{'' if changed else ' (unchanged)'}")
    return 0


def _cert_add(args, settings: Settings, stdin: TextIO) -> int:
    from service.auth.certificates import CertificateError, normalized_fingerprint, read_pem_certificate
    from service.store.party_credentials import CertificateBoundError, bind_certificate

    try:
        if args.pem is not None:
            fingerprint, subject = read_pem_certificate(Path(args.pem).read_bytes())
        else:
            fingerprint, subject = normalized_fingerprint(args.fingerprint), None
    except CertificateError as error:
        raise CommandError(f"{error}; nothing changed") from error
    try:
        with _party_command(settings, args.party_id) as conn:
            added = bind_certificate(conn, args.party_id, fingerprint, subject)
            if added:
                details = {"fingerprint": fingerprint, **({"subject": subject} if subject else {})}
                _record(conn, "party cert add", audit.CERTIFICATE_BOUND, args.party_id, details)
    except CertificateBoundError as error:
        raise CommandError(f"{error}: remove that binding first; nothing changed") from error
    described = f" ({subject})" if subject else ""
    print(f"party {args.party_id}: certificate {fingerprint}{described} {'bound' if added else 'was already bound'}")
    return 0


def _cert_list(args, settings: Settings, stdin: TextIO) -> int:
    from service.store.party_credentials import list_certificates
    from service.store.parties import UnknownPartyError

    try:
        with with_connection(settings) as conn:
            bound = list_certificates(conn, args.party_id)
    except UnknownPartyError as error:
        raise CommandError(str(error)) from error
    rows = [("PARTY", "FINGERPRINT (SHA-256)", "ADDED", "SUBJECT")] + [
        (b.party_id, b.fingerprint, b.added_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), b.subject or "-")
        for b in bound
    ]
    print_table(rows)
    return 0


def _cert_remove(args, settings: Settings, stdin: TextIO) -> int:
    from service.auth.certificates import CertificateError, normalized_fingerprint
    from service.store.party_credentials import unbind_certificate

    try:
        fingerprint = normalized_fingerprint(args.fingerprint)
    except CertificateError as error:
        raise CommandError(f"{error}; nothing changed") from error
    with _party_command(settings, args.party_id) as conn:
        removed = unbind_certificate(conn, args.party_id, fingerprint)
        if removed:
            _record(conn, "party cert remove", audit.CERTIFICATE_REMOVED, args.party_id, {"fingerprint": fingerprint})
    if not removed:
        raise CommandError(f"certificate {fingerprint} is not bound to party {args.party_id!r}; nothing changed")
    print(f"party {args.party_id}: certificate {fingerprint} removed; it no longer authenticates")
    return 0


def _rotate(args, settings: Settings, stdin: TextIO) -> int:
    """New key first (the old one kept as the previous key), then every secret re-sealed in one
    transaction, then the previous key deleted. Interrupted, it leaves the previous key: the
    next run finishes that rotation instead of making another key."""
    from service.auth.keyring import Keyring, begin_rotation, end_rotation
    from service.store.party_credentials import hold_server_key, reseal_secrets

    path = settings.secret_key_file
    with with_connection(settings, write=True) as conn:
        hold_server_key(conn, exclusive=True)  # no `party add`/`passwd` seals meanwhile
        started = begin_rotation(path)
        keyring = Keyring.load(path)
        count = reseal_secrets(conn, lambda sealed: None if keyring.is_current(sealed) else keyring.seal(keyring.open(sealed)))
        _record(conn, "secret rotate", audit.SERVER_KEY_ROTATED, Subject(), {"resealed": count})
    end_rotation(path)
    if not started:
        print(f"finished the rotation that was interrupted: {count} secret(s) re-sealed under the key in {path};"
              " run again to rotate to another key")
        return 0
    print(f"new server key in {path}; {count} PasswordDigest secret(s) re-sealed under it")
    return 0


# --- helpers --------------------------------------------------------------------------------


def _record(conn, command: str, kind: str, subject: str | Subject, details: dict | None = None) -> None:
    """The change in the audit trail, in the command's transaction (actor ``operator:COMMAND``);
    ``subject`` a party ID or a Subject."""
    from service.store.audit import record_operator

    record_operator(conn, command, kind, Subject(subject) if isinstance(subject, str) else subject, details)



@contextmanager
def _party_command(settings: Settings, party_id: str):
    """A write transaction of a command on one party: an unknown party is the user's error."""
    from service.store.parties import UnknownPartyError

    try:
        with with_connection(settings, write=True) as conn:
            yield conn
    except UnknownPartyError as error:
        raise CommandError(f"{error}; nothing changed") from error
