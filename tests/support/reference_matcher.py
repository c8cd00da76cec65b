"""A reference matcher for the exchange, written apart from the service's and as plainly as
possible: every order is kept in one list, and each arrival scans all of it. The property
tests run the same orders, cancels and clock moves through both and compare.

Rules (README "Exchange"): price-time priority; the trade price is the resting order's; a
party's orders never meet; a resting integral-only order is taken whole or skipped; an
incoming integral-only order is filled entirely or not at all (then it rests whole);
cancelled, expired and filled orders leave the book."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class RefOrder:
    seq: int
    tender_id: str
    party: str
    side: str
    price: Decimal
    quantity: Decimal
    integral_only: bool
    expires: int | None  # clock minutes; None: never
    remaining: Decimal = field(init=False)
    cancelled: bool = False

    def __post_init__(self):
        self.remaining = self.quantity

    def standing(self, now: int) -> bool:
        return not self.cancelled and self.remaining > 0 and (self.expires is None or self.expires > now)


@dataclass(frozen=True)
class RefFill:
    incoming: str
    resting: str
    quantity: Decimal
    price: Decimal


class ReferenceBook:
    def __init__(self):
        self.orders: list[RefOrder] = []
        self.fills: list[RefFill] = []
        self.now = 0

    def submit(self, tender_id, party, side, price, quantity, integral_only=False, expires=None) -> list[RefFill]:
        new = RefOrder(len(self.orders), tender_id, party, side, Decimal(price), Decimal(quantity), integral_only, expires)
        others = [o for o in self.orders if o.standing(self.now) and o.side != side and o.party != party]
        if side == "buy":
            others = sorted((o for o in others if o.price <= new.price), key=lambda o: (o.price, o.seq))
        else:
            others = sorted((o for o in others if o.price >= new.price), key=lambda o: (-o.price, o.seq))
        plan, left = [], new.quantity
        for other in others:
            if left == 0:
                break
            if other.integral_only and other.remaining > left:
                continue
            take = min(left, other.remaining)
            plan.append((other, take))
            left -= take
        if integral_only and left > 0:
            plan = []
        made = []
        for other, take in plan:
            other.remaining -= take
            new.remaining -= take
            made.append(RefFill(tender_id, other.tender_id, take, other.price))
        self.orders.append(new)
        self.fills.extend(made)
        return made

    def cancel(self, party, tender_id) -> bool:
        """Whether it was standing (and so is now cancelled)."""
        for o in self.orders:
            if o.tender_id == tender_id and o.party == party and o.standing(self.now):
                o.cancelled = True
                return True
        return False

    def advance(self, minutes: int) -> None:
        self.now += minutes

    def positions(self) -> dict[str, tuple[Decimal, Decimal]]:
        """party -> (rate, value flow): sells positive."""
        by_id = {o.tender_id: o for o in self.orders}
        totals: dict[str, list[Decimal]] = {}
        for fill in self.fills:
            for tender_id in (fill.incoming, fill.resting):
                o = by_id[tender_id]
                sign = 1 if o.side == "sell" else -1
                total = totals.setdefault(o.party, [Decimal(0), Decimal(0)])
                total[0] += sign * fill.quantity
                total[1] += sign * fill.quantity * fill.price
        return {p: (r.normalize(), v.normalize()) for p, (r, v) in totals.items() if r or v}


def crossed_pairs(standing: list[tuple[str, str, Decimal, Decimal, bool]]) -> list[tuple]:
    """Pairs of standing orders (party, side, price, remaining, integral-only) that the rules
    would let trade: a buy at or above a sell, of two parties, neither integral-only with more
    left than the other has. After every request there are none."""
    buys = [o for o in standing if o[1] == "buy"]
    sells = [o for o in standing if o[1] == "sell"]
    return [
        (b, s)
        for b in buys
        for s in sells
        if b[0] != s[0] and b[2] >= s[2] and (not b[4] or b[3] <= s[3]) and (not s[4] or s[3] <= b[3])
    ]
