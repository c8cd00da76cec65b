"""The fuzz test's market and one valid request per operation (its seed), for every row of
``service.pipeline.TABLE``.

``SEEDS[name]`` builds request ``index`` of operation ``name`` as a ``Case`` (a valid request
the fuzz then mutates), drawing its variations from ``rng``. A seed names the objects that
``set_up`` makes before the fuzz starts (tenders to accept, cancel and read, an option to
exercise, quotes, registrations), or the objects the fuzz of another operation makes (by
their request IDs, ``PREFIX-INDEX``). ``tests/unit/test_fuzz_seeds.py`` requires a seed for
every operation in the table, so a new operation is fuzzed from the day it is added: write a
function ``(market, request_id, index, rng) -> Case`` under ``@seed("EiSomething", "prefix")``
(a prefix no other seed uses), and, if it needs objects to act on, make them in ``set_up``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import requests
from lxml import etree

from service.soap.ns import EI, q
from tests.support import delivery_messages as dlv
from tests.support import messages as msg
from tests.support import option_messages as opt
from tests.support import quote_messages as quo
from tests.support.fuzz import Case, KnownIds
from tests.support.server import CTX, Server

CTX2 = "http://market.example.com/temix/fuzz-distribution"
# MAKER's tenders are accepted and read; SELLER creates, distributes and cancels tenders and
# publishes quotes; SELLER and MAKER send orders to CTX's exchange; REGISTRAR registers
# REGISTREE (and new parties); METER reports the readings of READER, OTHER and HOLDER, who ask
# for their metered energy back.
MAKER, SELLER, ACCEPTOR, HOLDER, READER, OTHER = "fz-maker", "fz-seller", "fz-acceptor", "fz-holder", "fz-reader", "fz-other"
REGISTRAR, REGISTREE, METER = "fz-registrar", "fz-registree", "fz-meter"
PARTIES = (MAKER, SELLER, ACCEPTOR, HOLDER, READER, OTHER, REGISTRAR, REGISTREE, METER)
METERED = (READER, OTHER, HOLDER)
EXCHANGE = f"{CTX}#exchange"
# Registrations to cancel, made one request each: fewer than the requests of the fuzz (the later
# cancellations find theirs cancelled: 410), so that the set-up stays short.
REGISTRATIONS = 300
OPTION_START = datetime(2030, 1, 1, tzinfo=UTC)
METERED_DAY = datetime(2030, 3, 1, tzinfo=UTC)  # the first of the days metered (DAYS_METERED)
DAYS_METERED = 3
# settlement interval per market context: readings and deliveries are whole ones
SETTLEMENT = {CTX: timedelta(hours=1), CTX2: timedelta(minutes=15)}


def password(party: str) -> str:
    return f"{party}-secret"


@dataclass(frozen=True)
class Market:
    """What the seeds need to know of the market ``set_up`` made: ``count`` requests per
    operation, and the registration IDs the service gave (one per request to cancel)."""

    count: int
    registrations: tuple[str, ...]


@dataclass(frozen=True)
class Seed:
    prefix: str  # of the seed's requestIDs: PREFIX-INDEX
    build: Callable[[Market, str, int, random.Random], Case]  # (market, requestID, index, rng)


SEEDS: dict[str, Seed] = {}


def seed(operation: str, prefix: str):
    def register(build):
        SEEDS[operation] = Seed(prefix, build)
        return build
    return register


def case(operation: str, market: Market, index: int, rng: random.Random) -> Case:
    """Request ``index`` of ``operation``, valid."""
    found = SEEDS[operation]
    return found.build(market, f"{found.prefix}-{index}", index, rng)


def known_ids(operation: str, market: Market, index: int) -> KnownIds:
    """The real IDs the fuzz's ID mutations swap in."""
    earlier = ["setup-big", "setup-optx", "setup-pool-0", "setup-quotes-0", "setup-reg-0"]
    prefix = SEEDS[operation].prefix
    return KnownIds(
        tenders=("big-0", "opt-1", "pool-0", "read-1", "other-1", "ct-0-0", "nowhere"),
        transactions=("optx-1", "tx-read", "tx-0", "ex-0", "nowhere"),
        parties=PARTIES + ("nobody", CTX, CTX2, EXCHANGE),
        request_ids=lambda rng: rng.choice(earlier + [f"{prefix}-{rng.randrange(max(index, 1))}"]),
        quotes=("qpool-0", "read-q-0", "cq-0-0", "trade-1", "nowhere"),
        registrations=market.registrations[:3] + ("reg-00000000-0000-0000-0000-000000000000",),
    )


# ---------------------------------------------------------------- the market


def add_parties(server: Server) -> None:
    server.add_market_context(CTX2, currency="USD")
    server.temix("market-context", "set", CTX, "--exchange")
    server.temix("market-context", "set", CTX2, "--settlement-interval", "PT15M")
    for party in PARTIES:
        if party in (REGISTRAR, METER):
            role = "registrar" if party == REGISTRAR else "meter"
            server.temix("party", "add", party, "--password-stdin", "--role", role, stdin=password(party) + "\n")
            continue
        contexts = (CTX, CTX2) if party in (SELLER, OTHER) else (CTX,)
        server.add_party(party, password(party), market_contexts=contexts, groups=("north",) if party == OTHER else ())


def call(server: Server, path: str, payload, party: str) -> etree._Element:
    data = msg.envelope(payload, msg.username_token(party, password(party)))
    answer = requests.post(f"{server.base_url}{path}", data=data, headers={"Content-Type": "text/xml"}, timeout=60)
    reply = etree.fromstring(answer.content)
    assert reply.findtext(f".//{q(EI, 'responseCode')}") == "200", answer.content[:600]
    return reply


def set_up(server: Server, count: int) -> Market:
    """The objects the seeds name: tenders to accept, cancel and read, an option to exercise,
    quotes to cancel and read (``count`` of each), registrations to cancel, READER's first
    metered day."""
    big = [(f"big-{k}", msg.product(quantity="1000000")) for k in range(4)]
    call(server, "/EiTender", msg.create_tender("setup-big", MAKER, ACCEPTOR, *big), MAKER)
    option = opt.option(start="2030-01-01T00:00:00Z", duration="PT8760H", quantity="1000")
    call(server, "/EiTender", msg.create_tender("setup-opt", MAKER, HOLDER, ("opt-1", option)), MAKER)
    held = opt.option(side="buy", state="transaction", start="2030-01-01T00:00:00Z", duration="PT8760H", quantity="1000")
    call(server, "/EiTransaction", msg.create_transaction("setup-optx", HOLDER, MAKER, ("optx-1", "opt-1", held)), HOLDER)
    reads = [(f"read-{k}", msg.product(start=f"2030-01-01T1{k}:00:00Z")) for k in range(3)]
    call(server, "/EiTender", msg.create_tender("setup-read", MAKER, READER, *reads), MAKER)
    bought = msg.product(side="buy", quantity="2", state="transaction", start="2030-01-01T10:00:00Z")
    call(server, "/EiTransaction", msg.create_transaction("setup-rx", READER, MAKER, ("tx-read", "read-0", bought)), READER)
    call(server, "/EiTender", msg.create_tender("setup-other", MAKER, OTHER, ("other-1", msg.product())), MAKER)
    quoted = [(f"read-q-{k}", msg.product(state="publication", start=f"2030-01-01T1{k}:00:00Z")) for k in range(3)]
    call(server, "/EiQuote", quo.create_quote("setup-quotes-read", SELLER, READER, *quoted), SELLER)
    for chunk in range(0, count, 500):
        pool = [(f"pool-{k}", msg.product()) for k in range(chunk, min(count, chunk + 500))]
        call(server, "/EiTender", msg.create_tender(f"setup-pool-{chunk}", SELLER, OTHER, *pool), SELLER)
        quotes = [(f"qpool-{k}", msg.product(state="publication")) for k in range(chunk, min(count, chunk + 500))]
        call(server, "/EiQuote", quo.create_quote(f"setup-quotes-{chunk}", SELLER, OTHER, *quotes), SELLER)

    def register(k: int) -> str:
        payload = msg.create_party_registration(f"setup-reg-{k}", REGISTREE, groups=(f"pool-g-{k}",))
        return call(server, "/EiRegistration", payload, REGISTRAR).findtext(f".//{q(EI, 'registrationID')}")

    hours = [(READER, dlv.delivery(at(METERED_DAY + timedelta(hours=h)), quantity="1.5", uid=f"h{h}")) for h in range(24)]
    call(server, "/EiDelivery", dlv.report_delivery("setup-metered", METER, *hours), METER)

    with ThreadPoolExecutor(2) as threads:
        registrations = tuple(threads.map(register, range(min(count, REGISTRATIONS))))
    return Market(count, registrations)


# ---------------------------------------------------------------- the seeds


def some_products(rng: random.Random, rid: str, market_context: str, states=("tender", "indicationOfInterest")):
    return [
        (
            f"{rid}-{k}",
            msg.product(
                side=rng.choice(["sell", "buy"]), quantity=rng.choice(["10", "0.5", "1000"]),
                price=rng.choice(["0.08", "-0.01", "1.5"]), start=rng.choice([msg.START, "2030-06-01T00:00:00+02:00"]),
                duration=rng.choice(["PT1H", "PT15M", "P1D"]), receipt=rng.choice([None, "NODE-0"]),
                state=rng.choice(states), expires=rng.choice([None, "2029-12-31T00:00:00Z"]),
                integral_only=rng.choice([None, "true", "false"]), market_context=market_context, uid=f"u{k}",
            ),
        )
        for k in range(rng.randint(1, 3))
    ]


def some_orders(rng: random.Random, rid: str):
    return [
        (
            f"{rid}-{k}",
            msg.product(
                side=rng.choice(["sell", "buy"]), quantity=rng.choice(["10", "0.5", "4"]), price=rng.choice(["0.08", "0.09", "0.10"]),
                duration=rng.choice(["PT1H", "PT15M"]), integral_only=rng.choice([None, None, "true"]), uid=f"u{k}",
            ),
        )
        for k in range(rng.randint(1, 3))
    ]


def intervals(rng: random.Random) -> tuple[str, ...]:
    return rng.choice([(), ("2030-01-01T00:00:00Z/P1D",), ("2030-01-01T09:00:00Z/2030-01-01T12:00:00Z",)])


def at(instant: datetime, rng: random.Random | None = None) -> str:
    """``instant`` in UTC with ``Z``, or (drawn from ``rng``) the same instant at another offset."""
    if rng is not None and rng.random() < 0.3:
        return instant.astimezone(timezone(timedelta(hours=rng.choice([2, -5])))).isoformat()
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(path: str, payload, party: str, headers=()) -> Case:
    return Case(path, payload, party, password(party), list(headers))


@seed("EiCreateTender", "ct")
def create_tender(market, rid, index, rng):
    if rng.random() < 0.3:  # orders to the exchange, from two parties, in a few books: they cross and fill
        party = rng.choice([SELLER, MAKER])
        return signed("/EiTender", msg.create_tender(rid, party, EXCHANGE, *some_orders(rng, rid)), party)
    return signed("/EiTender", msg.create_tender(rid, SELLER, OTHER, *some_products(rng, rid, CTX)), SELLER)


@seed("EiDistributeTender", "dt")
def distribute_tender(market, rid, index, rng):
    headers = [msg.distribution_scope(groups=("north",))] if rng.random() < 0.5 else []
    return signed("/EiTender", msg.distribute_tender(rid, SELLER, *some_products(rng, rid, CTX2)), SELLER, headers)


@seed("EiCancelTender", "cn")
def cancel_tender(market, rid, index, rng):
    if rng.random() < 0.2:  # what the fuzz of EiCreateTender made: tenders, orders resting in a book
        return signed("/EiTender", msg.cancel_tender(rid, SELLER, f"ct-{rng.randrange(market.count)}-0"), SELLER)
    return signed("/EiTender", msg.cancel_tender(rid, SELLER, f"pool-{index % market.count}"), SELLER)


@seed("EiRequestTender", "rt")
def request_tender(market, rid, index, rng):
    if rng.random() < 0.5:  # tenders the fuzz of EiCreateTender and EiDistributeTender made, as stored
        made = [f"{rng.choice(['ct', 'dt'])}-{rng.randrange(market.count)}-{rng.randrange(3)}" for _ in range(rng.randint(1, 4))]
        return signed("/EiTender", msg.request_tender(rid, OTHER, tender_ids=made), OTHER)
    payload = msg.request_tender(
        rid, READER, counterparties=rng.choice([(), (MAKER,)]), market_contexts=rng.choice([(), (CTX,)]),
        tender_ids=rng.choice([(), ("read-1",), ("read-0", "read-2")]), intervals=intervals(rng),
    )
    return signed("/EiTender", payload, READER)


@seed("EiCreateTransaction", "tx")
def create_transaction(market, rid, index, rng):
    product = msg.product(side="buy", quantity=rng.choice(["1", "0.5"]), state="transaction")
    payload = msg.create_transaction(rid, ACCEPTOR, MAKER, (rid, f"big-{rng.randrange(4)}", product))
    return signed("/EiTransaction", payload, ACCEPTOR)


@seed("EiRequestTransaction", "rx")
def request_transaction(market, rid, index, rng):
    if rng.random() < 0.5:  # transactions the fuzz of EiCreateTransaction and EiExerciseOption made
        reader, prefix = rng.choice([(ACCEPTOR, "tx"), (HOLDER, "ex"), (MAKER, rng.choice(["tx", "ex"]))])
        made = [f"{prefix}-{rng.randrange(market.count)}" for _ in range(rng.randint(1, 4))]
        return signed("/EiTransaction", msg.request_transaction(rid, reader, transaction_ids=made), reader)
    if rng.random() < 0.2:  # the fills of the orders the fuzz of EiCreateTender sent to the exchange
        reader = rng.choice([SELLER, MAKER])
        payload = msg.request_transaction(rid, reader, counterparties=(EXCHANGE,), intervals=intervals(rng))
        return signed("/EiTransaction", payload, reader)
    payload = msg.request_transaction(
        rid, READER, counterparties=rng.choice([(), (MAKER,)]), market_contexts=rng.choice([(), (CTX,)]),
        transaction_ids=rng.choice([(), ("tx-read",)]), intervals=rng.choice([(), ("2030-01-01T00:00:00Z/P1D",)]),
    )
    return signed("/EiTransaction", payload, READER)


@seed("EiRequestPosition", "rp")
def request_position(market, rid, index, rng):
    reader = rng.choice([READER, ACCEPTOR, HOLDER, MAKER])  # the last three hold the fuzz's transactions
    payload = msg.request_position(
        rid, reader, rng.choice(["2030-01-01T00:00:00Z", "2030-01-01T09:30:00+01:00", "2030-03-01T00:00:00Z"]),
        rng.choice(["P1D", "PT6H", "P7D"]), resolution=rng.choice([None, "PT1H", "PT15M"]),
        market_contexts=rng.choice([(), (CTX,)]), kind=rng.choice([None, "energy", "transport"]), node=rng.choice([None, "NODE-1"]),
        combine=rng.random() < 0.3,
    )
    return signed("/EiTransaction", payload, reader)


@seed("EiExerciseOption", "ex")
def exercise_option(market, rid, index, rng):
    hour = OPTION_START + timedelta(hours=1 + (index * 7919) % 8000)
    exercise = (rid, hour.strftime("%Y-%m-%dT%H:%M:%SZ"), rng.choice(["PT1H", "PT2H"]), rng.choice(["1", "0.5"]))
    return signed("/EiTransaction", opt.exercise_option(rid, HOLDER, MAKER, "optx-1", exercise), HOLDER)


@seed("EiCreateQuote", "cq")
def create_quote(market, rid, index, rng):
    states = ("publication", "indicationOfInterest")
    if rng.random() < 0.5:  # to every enrollee of CTX2 (maybe narrowed), or to one party
        headers = [msg.distribution_scope(groups=("north",))] if rng.random() < 0.5 else []
        return signed("/EiQuote", quo.create_quote(rid, SELLER, CTX2, *some_products(rng, rid, CTX2, states)), SELLER, headers)
    return signed("/EiQuote", quo.create_quote(rid, SELLER, OTHER, *some_products(rng, rid, CTX, states)), SELLER)


@seed("EiCancelQuote", "cnq")
def cancel_quote(market, rid, index, rng):
    subscriber = rng.choice([None, OTHER])
    return signed("/EiQuote", quo.cancel_quote(rid, SELLER, f"qpool-{index % market.count}", subscriber=subscriber), SELLER)


@seed("EiRequestQuote", "rq")
def request_quote(market, rid, index, rng):
    roll = rng.random()
    if roll < 0.3:  # the trade prices the fuzz of EiCreateTransaction and EiExerciseOption publish
        reader = rng.choice([READER, ACCEPTOR, MAKER])
        payload = quo.request_quote(rid, reader, CTX, market_contexts=rng.choice([(), (CTX,)]), intervals=intervals(rng))
        return signed("/EiQuote", payload, reader)
    if roll < 0.6:  # quotes the fuzz of EiCreateQuote made
        made = [f"cq-{rng.randrange(market.count)}-{rng.randrange(3)}" for _ in range(rng.randint(1, 4))]
        return signed("/EiQuote", quo.request_quote(rid, OTHER, SELLER, quote_ids=made), OTHER)
    payload = quo.request_quote(
        rid, READER, SELLER, market_contexts=rng.choice([(), (CTX,)]),
        quote_ids=rng.choice([(), ("read-q-1",), ("read-q-0", "read-q-2")]), intervals=intervals(rng),
    )
    return signed("/EiQuote", payload, READER)


@seed("EiRequestEiMarketContext", "rm")
def request_market_context(market, rid, index, rng):
    party, contexts = rng.choice([(READER, (CTX,)), (OTHER, (CTX2, CTX)), (SELLER, (CTX2,))])
    payload = msg.request_market_context(rid, party, *contexts, with_party=rng.random() < 0.7)
    return signed("/EiMarketContext", payload, party)


@seed("EiCreatePartyRegistration", "cr")
def create_party_registration(market, rid, index, rng):
    # Requests 2k and 2k+1 (sent at once by the two client threads) name the same new party or
    # group: one creates it, the other finds it there.
    if rng.random() < 0.1:  # a new party with its first password (the server allows it; scrypt is slow)
        payload = msg.create_party_registration(
            rid, f"fz-new-{index // 2}", market_contexts=(CTX,), password=f"first-{index}", text_only=rng.choice([None, True])
        )
        return signed("/EiRegistration", payload, REGISTRAR)
    payload = msg.create_party_registration(
        rid, rng.choice([REGISTREE, None]), market_contexts=rng.choice([(), (CTX2,)]), groups=(f"g-{index // 2}",),
        areas=rng.choice([(), (f"area-{index}",)]),
    )
    return signed("/EiRegistration", payload, REGISTRAR)


@seed("EiRequestPartyRegistration", "rr")
def request_party_registration(market, rid, index, rng):
    requestor = rng.choice([REGISTREE, REGISTRAR])
    payload = msg.request_party_registration(
        rid, requestor, REGISTREE, registrar=rng.choice([None, REGISTRAR]),
        registration_ids=tuple(rng.sample(market.registrations, k=min(len(market.registrations), rng.choice([0, 1, 2])))),
        intervals=intervals(rng),
    )
    return signed("/EiRegistration", payload, requestor)


@seed("EiCancelPartyRegistration", "cnr")
def cancel_party_registration(market, rid, index, rng):
    registration = market.registrations[index % len(market.registrations)]
    return signed("/EiRegistration", msg.cancel_party_registration(rid, REGISTRAR, REGISTREE, registration), REGISTRAR)


@seed("EiReportDelivery", "rd")
def report_delivery(market, rid, index, rng):
    # Few keys (three parties, two nodes, three days), so that reports correct each other's
    # readings, the two client threads' at once too; no key twice in one report.
    readings, keys = [], set()
    for k in range(rng.choice([1, 1, 2, 4, 8])):
        market_context = rng.choice([CTX, CTX2])
        step = SETTLEMENT[market_context]
        start = METERED_DAY + step * rng.randrange(DAYS_METERED * (timedelta(days=1) // step))
        party, node, injection = rng.choice(METERED), rng.choice(["NODE-1", "NODE-2"]), rng.random() < 0.3
        if (party, market_context, node, start, injection) in keys:
            continue
        keys.add((party, market_context, node, start, injection))
        scale, quantity = rng.choice([("k", rng.choice(["0", "1.25", "0.001", "1000"])), (None, "2.5"), ("none", "1250"), ("M", "0.0015")])
        one = dlv.delivery(
            at(start, rng), rng.choice(["PT1H", "PT60M"]) if step == timedelta(hours=1) else "PT15M", quantity=quantity,
            node=node, injection=injection, scale=scale, market_context=market_context, uid=f"{rid}-{k}",
        )
        readings.append((party, one))
    return signed("/EiDelivery", dlv.report_delivery(rid, METER, *readings), METER)


@seed("EiCreateDelivery", "cdl")
def create_delivery(market, rid, index, rng):
    # READER's first metered day is all in (set_up); the rest is what the fuzz of
    # EiReportDelivery reported, if it did.
    party = rng.choice(METERED)
    deliveries = []
    for k in range(rng.randint(1, 4)):
        market_context = rng.choice([CTX, CTX, CTX2])
        step = SETTLEMENT[market_context]
        start = METERED_DAY + step * rng.randrange(DAYS_METERED * (timedelta(days=1) // step))
        duration = rng.choice(["PT1H", "PT2H", "P1D"] if step == timedelta(hours=1) else ["PT15M", "PT30M", "PT1H"])
        deliveries.append(dlv.delivery(
            at(start, rng), duration, node=rng.choice(["NODE-1", "NODE-1", "NODE-2"]), injection=rng.random() < 0.3,
            scale=rng.choice(["k", None]), market_context=market_context, uid=f"{rid}-{k}",
        ))
    return signed("/EiDelivery", dlv.create_delivery(rid, party, *deliveries), party)


@seed("EiRequestBook", "rb")
def request_book(market, rid, index, rng):
    # the books of the orders the fuzz of EiCreateTender sends to CTX's exchange (msg.START, NODE-1)
    party = rng.choice([SELLER, MAKER, READER, OTHER])
    market_context = rng.choice([CTX, CTX, CTX, CTX2])
    node, receipt = rng.choice([(None, None), ("NODE-1", None), ("NODE-2", None), ("NODE-1", "NODE-2")])
    start, duration = rng.choice([(None, None), (msg.START, "PT1H"), ("2030-01-01T11:00:00+01:00", "PT15M"), ("2030-01-01T00:00:00Z", "P1D")])
    payload = msg.request_book(
        rid, party, market_context, kind=rng.choice([None, "energy", "transport"]), node=node, receipt=receipt,
        start=start, duration=duration, depth=rng.choice([None, 1, 5, 50]),
    )
    return signed("/EiTender", payload, party)
