"""Builders of option messages: emix:emixOption products and temix:eiExerciseOption."""

from __future__ import annotations

from service.soap.ns import EI, EMIX, MIN, PYLD, TEMIX, q
from tests.support.messages import CTX, START, el, product


def option(
    side="sell",
    holder_side="buy",
    option_type="call",
    premium="0.01",
    strike="0.10",
    state="tender",
    start=START,
    duration="PT4H",
    quantity="10",
    market_context=CTX,
    **power,
):
    """An emix:emixOption on power: the power description comes from ``messages.product``."""
    underlying = product(start=start, duration=duration, quantity=quantity, market_context=market_context, **power)
    temix_power = underlying[2]
    return el(
        q(EMIX, "emixOption"),
        None,
        el(q(MIN, "dtStart"), None, el(q(MIN, "dateTime"), start)),
        el(q(MIN, "duration"), duration),
        temix_power,
        el(q(EMIX, "uid"), "option-1"),
        el(q(EMIX, "transactiveState"), state),
        el(q(EMIX, "optionHolderSide"), holder_side),
        el(q(EMIX, "optionPremium"), None, el(q(EMIX, "value"), premium)),
        el(q(EMIX, "optionStrikePrice"), None, el(q(EMIX, "value"), strike)),
        el(q(EMIX, "optionType"), option_type),
        el(q(EMIX, "side"), side),
        el(q(EMIX, "marketContext"), market_context),
    )


def exercise_option(request_id, party, counterparty, option_transaction_id, *exercises):
    """``exercises``: (transaction_id, start, duration, quantity) tuples."""
    return el(
        q(TEMIX, "eiExerciseOption"),
        None,
        el(q(PYLD, "requestID"), request_id),
        el(q(EI, "partyID"), party),
        el(q(EI, "counterPartyID"), counterparty),
        el(q(TEMIX, "optionTransactionID"), option_transaction_id),
        *(
            el(
                q(TEMIX, "exercise"),
                None,
                el(q(EI, "transactionID"), xid),
                el(q(MIN, "dtStart"), None, el(q(MIN, "dateTime"), start)),
                el(q(MIN, "duration"), duration),
                el(q(EMIX, "quantity"), quantity),
            )
            for xid, start, duration, quantity in exercises
        ),
    )
