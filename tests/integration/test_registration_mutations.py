"""Mutated registration requests, in-process on the real PostgreSQL: the fuzz test's mutations
(tests/support/fuzz.py) applied to valid EiCreatePartyRegistration, EiRequestPartyRegistration
and EiCancelPartyRegistration requests. Whatever is sent: never a Server fault, and a request
not answered 200 changes no table a registration writes.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from lxml import etree

from service.soap.ns import EI, SOAP11_ENV, q
from tests.integration.test_registration import CTX, OTHER_CTX, REGISTRAR, register, snapshot
from tests.integration.test_registration import registry  # noqa: F401  (fixture)
from tests.support import messages as msg
from tests.support.fuzz import Case, KnownIds, Mutator

COUNT = 120
SEED = 13


def base_case(operation: str, index: int, rng: random.Random, registration_ids: list[str]) -> Case:
    rid = f"{operation[:8]}-{index}"
    if operation == "EiCreatePartyRegistration":
        registree = rng.choice(["party-A", "party-B", f"new-{index}", None])
        info = {"market_contexts": rng.choice([[CTX], [OTHER_CTX], []]), "groups": rng.choice([["north"], ["g1", "g2"], []]),
                "areas": rng.choice([["Z1"], []])}
        if registree and registree.startswith("new-"):
            info["password"] = f"pw-{index}"
        elif not any(info.values()):
            info["groups"] = ["fallback"]
        return Case("/EiRegistration", msg.create_party_registration(rid, registree, **info), REGISTRAR, "secret-R")
    if operation == "EiRequestPartyRegistration":
        requestor = rng.choice([REGISTRAR, "party-A"])
        payload = msg.request_party_registration(
            rid, requestor, "party-A", registration_ids=rng.sample(registration_ids, k=min(2, len(registration_ids))),
            intervals=rng.choice([(), ("2029-12-01T00:00:00Z/P90D",)]),
        )
        return Case("/EiRegistration", payload, requestor, "secret-A" if requestor == "party-A" else "secret-R")
    payload = msg.cancel_party_registration(rid, REGISTRAR, "party-A", rng.choice(registration_ids))
    return Case("/EiRegistration", payload, REGISTRAR, "secret-R")


def outcome_of(reply) -> tuple[str, str | None]:
    payload = etree.fromstring(reply.body).find(q(SOAP11_ENV, "Body"))[0]
    if payload.tag != q(SOAP11_ENV, "Fault"):
        return f"code {payload.findtext('.//' + q(EI, 'responseCode'))}", None
    faultcode = payload.findtext("faultcode") or ""
    problem = faultcode if faultcode.rpartition(":")[2].startswith("Server") else None
    return f"fault {faultcode}", problem


@pytest.mark.parametrize("operation", ["EiCreatePartyRegistration", "EiRequestPartyRegistration", "EiCancelPartyRegistration"])
def test_mutated_registration_requests_get_client_answers_and_refusals_write_nothing(registry, engine, operation):
    registration_ids = [
        register(registry, f"setup-{k}", "party-A", groups=[f"setup-{k}"]).payload.findtext(q(EI, "registrationID"))
        for k in range(COUNT)
    ]
    rng = random.Random(f"{SEED}/{operation}")
    ids = KnownIds(
        tenders=("nowhere",), transactions=("nowhere",), parties=("party-A", "party-B", REGISTRAR, "nobody"),
        request_ids=lambda r: r.choice(["setup-0", f"{operation[:8]}-{r.randrange(COUNT)}"]),
    )
    problems, outcomes = [], Counter()
    for index in range(COUNT):
        case = base_case(operation, index, random.Random(f"{SEED}/{operation}/{index}"), registration_ids)
        mutated = Mutator(rng, ids).mutate(case)
        before = snapshot(engine)
        reply = registry.raw(case.path, mutated.data)
        outcome, problem = outcome_of(reply)
        outcomes[outcome] += 1
        if problem is None and outcome != "code 200" and snapshot(engine) != before:
            problem = f"{outcome} but tables changed"
        if problem:
            problems.append(f"{index} {mutated.family} ({mutated.detail}): {problem}")
    assert problems == []
    print(f"\n{operation}: {dict(outcomes.most_common())}")
    assert outcomes["code 200"] and len(outcomes) > 3  # the mutations reach the handler, and are refused
