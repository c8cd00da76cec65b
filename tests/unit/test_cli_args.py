"""The temix command's argument handling, without a database (service/cli/)."""

from __future__ import annotations

import io

import pytest

from service.cli import CommandError, build_parser, read_password
from service.cli.serve import endpoint_urls
from service.config import Settings


@pytest.mark.parametrize(
    ("typed", "password"),
    [("pw\n", "pw"), ("pw", "pw"), ("pw\r\n", "pw"), ("pw\n\n", "pw\n"), (" pw \n", " pw ")],
)
def test_the_password_loses_exactly_one_trailing_newline(typed, password):
    assert read_password(io.StringIO(typed)) == password


@pytest.mark.parametrize("typed", ["", "\n", "\r\n"])
def test_an_empty_password_is_refused(typed):
    with pytest.raises(CommandError, match="empty"):
        read_password(io.StringIO(typed))


def test_party_add_collects_repeated_market_contexts_and_groups():
    args = build_parser().parse_args(
        ["party", "add", "alice", "--password-stdin", "--market-context", "urn:a",
         "--market-context", "urn:b", "--group", "g", "--data-dir", "/srv/temix"]
    )  # fmt: skip

    assert (args.party_id, args.market_context, args.group) == ("alice", ["urn:a", "urn:b"], ["g"])
    assert args.data_dir == "/srv/temix" and not args.text_only


def test_serve_options_default_to_the_settings():
    args = build_parser().parse_args(["serve"])

    assert (args.host, args.port, args.workers, args.data_dir) == (None, None, None, None)
    assert args.app == "service.app:create_app"


def test_the_endpoint_line_names_every_service_and_its_wsdl():
    line = endpoint_urls(Settings.from_env({}, host="::1", port=9000))

    assert line == (
        "http://[::1]:9000/EiTender (WSDL http://[::1]:9000/EiTender?wsdl) and "
        "http://[::1]:9000/EiTransaction (WSDL http://[::1]:9000/EiTransaction?wsdl) and "
        "http://[::1]:9000/EiRegistration (WSDL http://[::1]:9000/EiRegistration?wsdl)"
    )
