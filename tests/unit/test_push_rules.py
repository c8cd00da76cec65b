"""Push without a database: the backoff, the order of a pass over a fake outbox, the message
the exchange sends (validated twice) and the reading of the party's answer."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from service.config import SCHEMA_DIR
from service.domain.push import after_attempt, backoff, check_callback_url, request_id_for, state_of
from service.domain.tenders import Side
from service.push import push_pass
from service.soap import push as wire
from service.soap.ns import EI, EMIX, PYLD, SOAP11_ENV, q
from service.soap.schema import SchemaSet
from service.soap.stored import StoredForms, stored_form
from service.store.outbox import Message
from tests.support import messages as msg
from tests.support.soap import independent_schema

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def schemas():
    return SchemaSet(SCHEMA_DIR)


# ---------------------------------------------------------------- backoff and states


def test_the_backoff_doubles_from_one_second_up_to_its_cap():
    assert [backoff(n, cap_seconds=60).total_seconds() for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(10_000, cap_seconds=300) == timedelta(seconds=300)
    with pytest.raises(ValueError):
        backoff(0)


def test_an_attempt_either_delivers_or_schedules_the_next_after_the_backoff():
    delivered = after_attempt(2, None, NOW, 300)
    assert (delivered.attempts, delivered.delivered_at, delivered.last_error) == (3, NOW, None)
    failed = after_attempt(2, "HTTP 503", NOW, 300)
    assert (failed.attempts, failed.delivered_at, failed.last_error) == (3, None, "HTTP 503")
    assert failed.next_attempt_at == NOW + timedelta(seconds=4)
    assert len(after_attempt(0, "x" * 5000, NOW, 300).last_error) == 500


def test_states_and_request_ids():
    assert state_of(None, None) == "pending"
    assert state_of(None, "HTTP 503") == "failed"
    assert state_of(NOW, None) == "delivered"
    assert request_id_for("fill-3-1-buy") == request_id_for("fill-3-1-buy") == "push-fill-3-1-buy"


@pytest.mark.parametrize("url", ["ftp://host/x", "http://", "file:///etc/passwd", "http://u:p@host/x", "http://h/x#f", " http://h/"])
def test_a_callback_url_must_be_plain_http_or_https_with_a_host(url):
    with pytest.raises(ValueError):
        check_callback_url(url)


def test_a_good_callback_url_is_kept_as_given():
    assert check_callback_url("https://party.example.com:8443/ei/EiTransaction") == "https://party.example.com:8443/ei/EiTransaction"


# ---------------------------------------------------------------- a pass's order


def message(pk: int, party: str) -> Message:
    return Message(pk, party, "ctx#exchange", f"fill-{pk}", f"push-fill-{pk}", 0, "http://x/", "t", Side.BUY, b"")


class FakeOutbox:
    """Messages by party, head first; a claim gives the head only, as the table's does."""

    def __init__(self, messages: list[Message]):
        self.waiting = {}
        for m in messages:
            self.waiting.setdefault(m.party_id, []).append(m)
        self.records = []

    def due_parties(self, now):
        return [party for party, queue in self.waiting.items() if queue]

    @contextmanager
    def claiming(self, party_id, now):
        queue = self.waiting[party_id]
        yield queue[0] if queue else None

    def record(self, m, attempted):
        self.records.append((m.pk, attempted.delivered_at is not None))
        if attempted.delivered_at is not None:
            self.waiting[m.party_id].remove(m)


def test_a_pass_sends_each_partys_messages_in_order_and_a_failure_holds_back_only_that_partys_rest():
    outbox = FakeOutbox([message(1, "A"), message(2, "B"), message(3, "A"), message(4, "B"), message(5, "A")])
    sent = []

    def deliver(m):
        sent.append(m.pk)
        return "HTTP 503" if m.pk == 3 else None  # A's second message fails

    tally = push_pass(outbox, deliver, lambda: NOW, 300)
    assert sent == [1, 3, 2, 4]  # A: 1, then 3 fails and 5 waits; B: 2, 4
    assert (tally.delivered, tally.failed) == (3, 1)
    assert [m.pk for m in outbox.waiting["A"]] == [3, 5]
    sent.clear()
    push_pass(outbox, lambda m: sent.append(m.pk), lambda: NOW, 300)
    assert sent == [3, 5]


def test_a_pass_for_one_party_leaves_the_others():
    outbox = FakeOutbox([message(1, "A"), message(2, "B")])
    sent = []
    push_pass(outbox, lambda m: sent.append(m.pk), lambda: NOW, 300, party_id="B")
    assert sent == [2]


# ---------------------------------------------------------------- the message and the answer


def fill(schemas) -> wire.Fill:
    order = stored_form(msg.product(side="sell", quantity="10", price="0.08"))
    # the exchange's transaction is stored on its side (buy) for A's sell
    product = StoredForms.filled(order, "k", Decimal(4), Decimal("0.07"), Side.BUY, "k")
    return wire.Fill("push-fill-7-3-sell", "ctx#exchange", "party-A", "fill-7-3-sell", "a1", Side.SELL, product)


def test_the_message_is_a_valid_ei_create_transaction_on_the_partys_side(schemas):
    envelope = etree.fromstring(wire.create_transaction(fill(schemas), schemas))
    assert envelope.tag == q(SOAP11_ENV, "Envelope")
    (payload,) = envelope.find(q(SOAP11_ENV, "Body"))
    independent_schema().validate(payload)
    assert payload.tag == q(PYLD, "eiCreateTransaction")
    assert payload.findtext(q(PYLD, "requestID")) == "push-fill-7-3-sell"
    assert payload.findtext(q(EI, "partyID")) == "ctx#exchange"
    assert payload.findtext(q(EI, "counterPartyID")) == "party-A"
    item = payload.find(q(EI, "eiTransaction"))
    assert (item.findtext(q(EI, "transactionID")), item.findtext(q(EI, "tenderID"))) == ("fill-7-3-sell", "a1")
    assert item.findtext(f".//{q(EMIX, 'side')}") == "sell"
    assert item.findtext(f".//{q(EMIX, 'quantity')}") == "4"
    assert item.findtext(f".//{q(EMIX, 'transactiveState')}") == "transaction"


def test_the_message_is_the_same_at_every_attempt(schemas):
    assert wire.create_transaction(fill(schemas), schemas) == wire.create_transaction(fill(schemas), schemas)


def answer(code="200", ref="push-1", tag="eiCreatedTransaction") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP11_ENV}"><s:Body><p:{tag} xmlns:p="{PYLD}" xmlns:ei="{EI}">'
        f"<ei:counterPartyID>party-A</ei:counterPartyID><ei:partyID>ctx#exchange</ei:partyID>"
        f"<ei:eiResponse><ei:responseCode>{code}</ei:responseCode><ei:responseDescription>d</ei:responseDescription>"
        f"<ei:refID>{ref}</ei:refID></ei:eiResponse><ei:transactionID>fill-1</ei:transactionID>"
        f"</p:{tag}></s:Body></s:Envelope>"
    ).encode()


def test_a_valid_created_transaction_with_code_200_for_the_request_acknowledges_it(schemas):
    assert wire.refusal_in(answer(), "push-1", schemas) is None


@pytest.mark.parametrize("body, says", [
    (answer(code="400"), "responseCode 400"),
    (answer(ref="other"), "refID 'other'"),
    (answer(tag="eiCreatedTender"), "not an eiCreatedTransaction"),
    (b"not xml", "Malformed XML"),
    (f'<s:Envelope xmlns:s="{SOAP11_ENV}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
     f"<faultstring>no</faultstring></s:Fault></s:Body></s:Envelope>".encode(), "SOAP Fault s:Client: no"),
    (f'<s:Envelope xmlns:s="{SOAP11_ENV}"><s:Body><p:eiCreatedTransaction xmlns:p="{PYLD}"/></s:Body></s:Envelope>'.encode(),
     "schema-invalid"),
])
def test_any_other_answer_is_a_failure_saying_what_was_wrong(schemas, body, says):
    assert says in wire.refusal_in(body, "push-1", schemas)


# ---------------------------------------------------------------- settings and options


def test_push_settings_come_from_the_environment_and_serve_no_push_turns_the_worker_off(tmp_path):
    from service.cli import build_parser
    from service.config import Settings, SettingsError

    defaults = Settings.from_env(environ={}, data_dir=tmp_path)
    assert (defaults.push, defaults.push_timeout_seconds, defaults.push_backoff_cap_seconds) == (True, 10, 300)
    env = {"TEMIX_PUSH": "no", "TEMIX_PUSH_TIMEOUT": "3", "TEMIX_PUSH_BACKOFF_CAP": "60"}
    given = Settings.from_env(environ=env, data_dir=tmp_path)
    assert (given.push, given.push_timeout_seconds, given.push_backoff_cap_seconds) == (False, 3, 60)
    with pytest.raises(SettingsError, match="TEMIX_PUSH_TIMEOUT"):
        Settings.from_env(environ={"TEMIX_PUSH_TIMEOUT": "0"}, data_dir=tmp_path)
    assert build_parser().parse_args(["serve", "--no-push"]).push is False
    assert build_parser().parse_args(["serve"]).push is None  # not given: the environment's, else on
