"""A real ``temix serve`` pushes fills to a real receiving SOAP server: two parties with
callback URLs send crossing orders to an exchange, and the serve's push worker delivers each
its EiCreateTransaction, which the receiver validates and acknowledges."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import requests

from tests.support import messages as msg
from tests.support.receiver import running_receiver
from tests.support.server import running_server
from tests.support.soap import Reply, check_reply

WAIT_SECONDS = 60  # how long the worker may take at most; it polls every second


def post(server, payload, party) -> Reply:
    data = msg.envelope(payload, msg.username_token(party, party, digest=True))
    answer = requests.post(f"{server.base_url}/EiTender", data=data, headers={"Content-Type": "text/xml"}, timeout=30)
    return check_reply(Reply(answer.status_code, answer.content))


def test_the_serve_push_worker_delivers_each_fill_to_its_partys_endpoint(server):
    market = f"http://market.example.com/temix/push-{uuid.uuid4().hex[:8]}"
    server.temix("market-context", "add", market, "--currency", "USD", "--exchange")
    exchange = f"{market}#exchange"
    seller, buyer = f"seller-{uuid.uuid4().hex[:6]}", f"buyer-{uuid.uuid4().hex[:6]}"
    with running_receiver() as receiver:
        for party in (seller, buyer):
            server.add_party(party, party, market_contexts=(market,))
            server.temix("party", "callback", party, "--url", receiver.url)
        for party, tender, side, quantity in ((seller, "s1", "sell", "10"), (buyer, "b1", "buy", "4")):
            product = msg.product(side=side, quantity=quantity, price="0.08", market_context=market)
            reply = post(server, msg.create_tender(f"req-{uuid.uuid4().hex[:8]}", party, exchange, (tender, product)), party)
            assert reply.code == "200", reply.description
        deadline = time.monotonic() + WAIT_SECONDS
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        got = sorted((r.party_id, r.sender_id, r.tender_id, r.side, r.quantity, r.price) for r in receiver.received)
        assert got == sorted([(seller, exchange, "s1", "sell", "4", "0.08"), (buyer, exchange, "b1", "buy", "4", "0.08")]), server.log_tail()
        assert receiver.invalid == []
    for party in (seller, buyer):
        (row,) = [json.loads(line) for line in server.temix("outbox", "--party", party, "--format", "json").splitlines()]
        assert row["state"] == "delivered" and row["attempts"] == 1
        (message,) = [r for r in receiver.received if r.party_id == party]
        assert message.request_id == row["request_id"] == "push-" + message.transaction_id


def _children_cmdlines(pid: int) -> list[bytes]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended since the folder was listed
            continue
        for child in children:
            try:
                found.append(Path(f"/proc/{child}/cmdline").read_bytes())
            except OSError:
                continue
    return found


def test_serve_runs_the_push_worker_beside_its_workers_unless_told_not_to(server):
    pushers = [line for line in _children_cmdlines(server.pid) if b"outbox\x00push\x00--follow" in line]
    assert len(pushers) == 1, _children_cmdlines(server.pid)
    with running_server("--no-push", prefix="temix-e2e-nopush-") as quiet:
        assert not [line for line in _children_cmdlines(quiet.pid) if b"outbox" in line]
