"""node-soap (the `soap` npm package, a common Node.js SOAP client) against the running service:
it loads every WSDL of the operation table and calls the list reads with emix:marketContext and
ei:tenderID / ei:transactionID filters. node-soap copies the WSDL's namespace declarations onto
its Envelope and writes the CTS prefixes inside the Body, so this fails if a WSDL does not declare
them (issue 13). The client is installed by this test tier itself (``npm ci`` in
tests/clients/node, from its package-lock.json); the test is skipped, saying why, when node or
npm is missing or the npm registry cannot be reached."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from service import pipeline
from service.config import REPO_ROOT
from tests.e2e.conftest import CTX
from tests.support import messages as msg

CLIENT_DIR = REPO_ROOT / "tests" / "clients" / "node"


@pytest.fixture(scope="module")
def node_soap() -> list[str]:
    """The command that runs the client, after ``npm ci`` (once per lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node-soap client: node and npm are not on the PATH")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.skip(f"node-soap client: node {version} is older than 18")
    stamp = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CLIENT_DIR, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            pytest.skip(f"node-soap client: npm ci failed (is the npm registry reachable?): {done.stderr.strip()[-500:]}")
    return [node, str(CLIENT_DIR / "client.js")]


def run_client(command: list[str], plan: dict) -> list[dict]:
    done = subprocess.run(command, input=json.dumps(plan), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_node_soap_loads_every_wsdl_and_reads_with_market_context_and_id_filters(server, node_soap):
    party, other = f"node-{uuid.uuid4().hex[:8]}", f"node-b-{uuid.uuid4().hex[:8]}"
    server.add_party(party, "secret-node", market_contexts=(CTX,))
    server.add_party(other, "secret-other", market_contexts=(CTX,))
    rid = lambda: f"req-{uuid.uuid4().hex}"  # noqa: E731
    reads = {"requestID": None, "partyID": party, "requestorPartyID": party, "marketContext": [CTX]}
    plan = {
        "baseUrl": server.base_url, "party": party, "password": "secret-node",
        "endpoints": list(pipeline.ENDPOINTS),
        "calls": [
            {"endpoint": "EiTender", "operation": "EiRequestTender",
             "args": {**reads, "requestID": rid(), "tenderID": ["t-none"]}},
            {"endpoint": "EiTransaction", "operation": "EiRequestTransaction",
             "args": {**reads, "requestID": rid(), "transactionID": ["x-none"]}},
            {"endpoint": "EiMarketContext", "operation": "EiRequestEiMarketContext",
             "args": {"requestID": rid(), "marketContext": [CTX], "partyID": party}},
        ],
    }
    lines = run_client(node_soap, plan)
    loaded = {line["loaded"]: line["operations"] for line in lines if "loaded" in line}
    assert {endpoint: sorted(operations) for endpoint, operations in loaded.items()} == {
        endpoint: sorted(pipeline.operations_of(endpoint).values()) for endpoint in pipeline.ENDPOINTS
    }
    calls = {line["operation"]: line for line in lines if "operation" in line}
    for operation, call in calls.items():
        assert "error" not in call, f"{operation}: {call.get('error')}\n{call.get('body')}\nsent: {call.get('request')}"
        assert call["reply"]["eiResponse"]["responseCode"] == "200", call
        assert "ei:" in call["request"] or "xmlns:ei" in call["request"]
    terms = calls["EiRequestEiMarketContext"]["reply"]["marketContextTerms"]
    terms = terms if isinstance(terms, list) else [terms]
    assert [t["marketContext"] for t in terms] == [CTX]
    assert terms[0]["currency"] == "USD" and terms[0]["publisherPartyID"] == CTX
