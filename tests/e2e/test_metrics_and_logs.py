"""``GET /metrics`` and the JSON request log of a real ``temix serve`` with two workers, after
known traffic: accepted requests, requests refused with an EI code, and SOAP faults.

The server is this module's own (nothing else talks to it), so the counts are exact.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from service.soap.ns import EI, q
from tests.support import messages as msg
from tests.support.faults import wait_for_workers, worker_pids
from tests.support.server import CTX, running_server
from tests.support.soap import Reply, check_reply

WORKERS = 2
MARKER_NODE = f"NODE-BODY-{uuid.uuid4().hex[:8]}"  # in every tender's body: must never be logged


@pytest.fixture(scope="module")
def server():
    with running_server("--workers", str(WORKERS), env={"TEMIX_LOG_FORMAT": "json"}) as running:
        yield running


@pytest.fixture(scope="module")
def traffic(server):
    """The known traffic; returns (what each request was answered, the passwords)."""
    tag = uuid.uuid4().hex[:6]
    seller, buyer = f"seller-{tag}", f"buyer-{tag}"
    passwords = {seller: f"pw-seller-{uuid.uuid4().hex}", buyer: f"pw-buyer-{uuid.uuid4().hex}"}
    for party, password in passwords.items():
        server.add_party(party, password)
    answered = []  # (operation, requestID, party, code or fault)

    def send(path, payload, operation, password=None):
        party = payload.findtext(q(EI, "partyID"))
        token = msg.username_token(party, password or passwords[party], digest=True)
        # a new connection each time, so both workers take requests
        http = requests.post(
            f"{server.base_url}{path}", data=msg.envelope(payload, token),
            headers={"Content-Type": "text/xml; charset=utf-8", "Connection": "close"}, timeout=30,
        )
        reply = check_reply(Reply(http.status_code, http.content))
        outcome = reply.faultcode.partition(":")[2] if reply.is_fault else reply.code
        answered.append((operation, payload.findtext(f".//{q(msg.PYLD, 'requestID')}"), party, outcome))
        return outcome

    def tender(tender_id, quantity="10"):
        return (tender_id, msg.product(quantity=quantity, node=MARKER_NODE))

    tenders = [f"t-{tag}-{n}" for n in range(5)]
    for tender_id in tenders:  # 5 accepted
        assert send("/EiTender", msg.create_tender(str(uuid.uuid4()), seller, buyer, tender(tender_id)), "EiCreateTender") == "200"
    for n in range(2):  # 2 refused: no such counterparty
        refused = msg.create_tender(str(uuid.uuid4()), seller, f"nobody-{tag}", tender(f"x-{tag}-{n}"))
        assert send("/EiTender", refused, "EiCreateTender") == "404"
    # 3 transactions: two tenders filled, one taken in part
    for tender_id, quantity in zip(tenders, ("10", "10", "4")):
        accept = msg.create_transaction(
            str(uuid.uuid4()), buyer, seller,
            (f"x-{tender_id}", tender_id, msg.product(side="buy", quantity=quantity, node=MARKER_NODE, state="transaction")),
        )
        assert send("/EiTransaction", accept, "EiCreateTransaction") == "200"
    assert send("/EiTender", msg.cancel_tender(str(uuid.uuid4()), seller, f"none-{tag}"), "EiCancelTender") == "404"
    # faults: a wrong password, a payload the schemas refuse
    wrong = msg.create_tender(str(uuid.uuid4()), seller, buyer, tender(f"w-{tag}"))
    assert send("/EiTender", wrong, "EiCreateTender", password="not-the-password") == "FailedAuthentication"
    invalid = msg.create_tender(str(uuid.uuid4()), seller, buyer, tender(f"i-{tag}"))
    invalid.find(f".//{q(msg.EMIX, 'quantity')}").text = "ten"
    assert send("/EiTender", invalid, "EiCreateTender") == "Client.SchemaValidation"
    for _ in range(2):  # not XML: no operation can be told
        http = requests.post(f"{server.base_url}/EiTender", data=b"<soap:Envelope", headers={"Connection": "close"}, timeout=30)
        assert check_reply(Reply(http.status_code, http.content)).faultcode.endswith("Client.MalformedXml")
    oversize = b" " * (2 * 1024 * 1024 + 1)  # over TEMIX_MAX_BODY_BYTES: refused unread
    http = requests.post(f"{server.base_url}/EiTransaction", data=oversize, headers={"Connection": "close"}, timeout=30)
    assert check_reply(Reply(http.status_code, http.content)).faultcode.endswith("Client.RequestTooLarge")
    return answered, passwords


def scrape(server) -> dict:
    """{(metric sample name, frozenset of labels): value}."""
    answer = requests.get(f"{server.base_url}/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def requests_counted(samples: dict, operation: str, code: str = "", fault: str = "") -> float:
    labels = frozenset({"operation": operation, "code": code, "fault": fault}.items())
    return samples.get(("temix_requests_total", labels), 0)


def check_counts(samples: dict) -> None:
    assert requests_counted(samples, "EiCreateTender", code="200") == 5
    assert requests_counted(samples, "EiCreateTender", code="404") == 2
    assert requests_counted(samples, "EiCreateTender", fault="wsse:FailedAuthentication") == 1
    assert requests_counted(samples, "EiCreateTender", fault="Client.SchemaValidation") == 1
    assert requests_counted(samples, "EiCreateTransaction", code="200") == 3
    assert requests_counted(samples, "EiCancelTender", code="404") == 1
    assert requests_counted(samples, "unknown", fault="Client.MalformedXml") == 2
    assert requests_counted(samples, "unknown", fault="Client.RequestTooLarge") == 1
    counted = {labels: value for (name, labels), value in samples.items() if name == "temix_requests_total"}
    assert sum(counted.values()) == 16, counted
    latency = {
        dict(labels)["operation"]: value
        for (name, labels), value in samples.items()
        if name == "temix_request_duration_seconds_count"
    }
    assert latency == {"EiCreateTender": 9, "EiCreateTransaction": 3, "EiCancelTender": 1, "unknown": 3}
    context = frozenset({"market_context": CTX}.items())
    assert samples[("temix_standing_tenders", context)] == 3  # five, less two filled
    assert samples[("temix_transactions", context)] == 3
    assert samples[("temix_db_pool_checked_out", frozenset())] == 0
    # every request's one unit of work (two for a refused write, which logs its refusal
    # apart), plus the admin commands' none: at least one per request that reached the database
    assert samples[("temix_db_transaction_seconds_count", frozenset())] >= 12


def test_metrics_count_every_request_by_operation_code_and_fault_over_the_workers(server, traffic):
    samples = scrape(server)
    check_counts(samples)
    assert samples[("temix_db_pool_size", frozenset())] == 2 * WORKERS  # each worker's pool keeps two


def test_a_killed_worker_keeps_its_counts_and_drops_its_live_gauges(server, traffic):
    before = worker_pids(server.pid)
    assert len(before) == WORKERS
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_for_workers(server.pid, WORKERS, other_than={victim})
    # the replacement builds its pool when it starts: wait until its gauge is written
    deadline = time.monotonic() + 60
    while (samples := scrape(server))[("temix_db_pool_size", frozenset())] != 2 * WORKERS:
        assert samples[("temix_db_pool_size", frozenset())] < 2 * WORKERS, "the dead worker's pool is still counted"
        assert time.monotonic() < deadline, "the replacement worker never built its pool"
        time.sleep(0.2)
    check_counts(samples)


def test_the_json_log_has_one_line_per_request_without_bodies_or_passwords(server, traffic):
    answered, passwords = traffic
    text = server.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    requests_logged = [line for line in lines if line["logger"] == "temix.request"]
    by_request_id = {line["requestID"]: line for line in requests_logged if line["requestID"]}
    for operation, request_id, party, outcome in answered:
        if outcome == "Client.SchemaValidation":  # refused before its requestID was read
            [line] = [line for line in requests_logged if line.get("fault") == outcome]
        else:
            line = by_request_id[request_id]
        assert line["operation"] == operation
        assert line["endpoint"] in ("EiTender", "EiTransaction")
        assert isinstance(line["worker"], int) and line["duration_ms"] >= 0
        assert line["time"].endswith("Z")
        if outcome.isdigit():
            assert (line["party"], line["responseCode"]) == (party, outcome)
        else:  # refused before anyone was authenticated
            assert (line["party"], line["fault"].rpartition(":")[2]) == (None, outcome.rpartition(":")[2])
    malformed = [line for line in requests_logged if line.get("fault") == "Client.MalformedXml"]
    assert len(malformed) == 2 and all(line["operation"] == "unknown" for line in malformed)
    too_large = [line for line in requests_logged if line.get("fault") == "Client.RequestTooLarge"]
    assert [line["endpoint"] for line in too_large] == ["EiTransaction"]
    assert len(requests_logged) == 16
    assert {line["worker"] for line in requests_logged} <= {line["worker"] for line in lines}
    for secret in (*passwords.values(), MARKER_NODE):
        assert secret not in text
