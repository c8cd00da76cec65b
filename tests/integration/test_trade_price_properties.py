"""Property: the published trade prices are what the trades imply. After any sequence of
acceptances (at several prices) and option exercises (at the strike) on one delivery hour,
EiRequestQuote on the market context shows the last traded price, the volume-weighted
average price and the traded energy that the sequence gives by plain arithmetic on
fractions, computed here independently of the service's code."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.soap.ns import EI, EMIX, POWER, q
from tests.support import messages as msg
from tests.support import option_messages as opt
from tests.support import quote_messages as qm

PRICES = ("0.05", "0.123", "7.5")  # the tenders' prices per kWh
STRIKE = "0.1"
RATES = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3)
STEP = st.one_of(
    st.tuples(st.just("accept"), st.sampled_from(PRICES), RATES),
    st.tuples(st.just("exercise"), st.just(STRIKE), RATES),
)
_examples = itertools.count()


def setup(service, node: str, n: int) -> None:
    """A offers B each price on ``node`` for 10:00-11:00, and writes B a call on 10:00-14:00."""
    tenders = [(f"t{n}-{i}", msg.product(price=p, quantity="100000", node=node, currency=None)) for i, p in enumerate(PRICES)]
    assert service.call("/EiTender", msg.create_tender(f"c{n}", "party-A", "party-B", *tenders)).code == "200"
    option = opt.option(strike=STRIKE, quantity="100000", node=node)
    assert service.call("/EiTender", msg.create_tender(f"o{n}", "party-A", "party-B", (f"opt{n}", option))).code == "200"
    take = msg.create_transaction(f"oa{n}", "party-B", "party-A", (f"ox{n}", f"opt{n}", opt.option(side="buy", state="transaction", strike=STRIKE, quantity="100000", node=node)))
    assert service.call("/EiTransaction", take).code == "200"


def trade(service, node: str, n: int, i: int, step) -> None:
    kind, price, rate = step
    if kind == "accept":
        tender_id = f"t{n}-{PRICES.index(price)}"
        product = msg.product(side="buy", state="transaction", price=price, quantity=str(rate), node=node, currency=None)
        reply = service.call("/EiTransaction", msg.create_transaction(f"a{n}-{i}", "party-B", "party-A", (f"x{n}-{i}", tender_id, product)))
    else:
        exercise = opt.exercise_option(f"e{n}-{i}", "party-B", "party-A", f"ox{n}", (f"ex{n}-{i}", msg.START, "PT1H", str(rate)))
        reply = service.call("/EiTransaction", exercise)
    assert reply.code == "200", reply.description


def shown(service, node: str) -> dict[str, tuple[str, str | None]] | None:
    reply = service.call("/EiQuote", qm.request_quote("ask", "party-C", msg.CTX, intervals=[f"{msg.START}/PT1H"]), as_party="party-C")
    for item in reply.payload.iter(q(EI, "eiQuote")):
        if item.findtext(f".//{q(POWER, 'node')}") == node:
            return {
                p.findtext(q(EMIX, "uid")): (p.findtext(f".//{q(EMIX, 'value')}"), p.findtext(f".//{q(EMIX, 'quantity')}"))
                for p in item.iter(q(EMIX, "product"))
            }
    return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_published_prices_equal_what_the_trades_imply(service, steps):
    n = next(_examples)
    node = f"NODE-P{n}"  # a key of its own in each example
    setup(service, node, n)
    for i, step in enumerate(steps):
        trade(service, node, n, i, step)
    energy = sum(Fraction(rate) for _, _, rate in steps)  # kWh: one-hour trades
    value = sum(Fraction(price) * Fraction(rate) for _, price, rate in steps)
    published = shown(service, node)
    assert published is not None
    last_price, _ = published["last"]
    vwap, energy_shown = published["vwap"]
    assert Fraction(last_price) == Fraction(steps[-1][1])
    assert Fraction(energy_shown) == energy
    exact = value / energy
    assert abs(Fraction(vwap) - exact) <= exact / 10**48  # 50 significant digits, rounded once
