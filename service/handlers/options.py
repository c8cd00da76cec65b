"""EiExerciseOption (extension): the holder of an option transaction calls its underlying."""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from service.domain.errors import NotFoundError, NotPermittedError
from service.domain.options import Exercise, OptionType, check_exercises, holder_of
from service.handlers import Request, ok, reply_exercised_option
from service.soap import mapping as m
from service.soap.ns import EI, EMIX, TEMIX, q
from service.store import positions, transactions


def exercise_option(req: Request) -> etree._Element:
    writer_id = req.text(q(EI, "counterPartyID"))
    option_id = req.text(q(TEMIX, "optionTransactionID"))
    option = transactions.lock_option(req.conn, req.party_id, writer_id, option_id)
    if option is None:
        raise NotFoundError(f"No option transaction {option_id!r} between you and {writer_id!r}")
    holder_id, _ = holder_of(option.acceptor_id, option.maker_id, option.acceptor_side, option.holder_side)
    if holder_id != req.party_id:
        raise NotPermittedError(f"Option {option_id!r} is held by {holder_id!r}: only its holder exercises it")
    market = req.market_of(option.market_context)
    accepted = m.read_product(etree.fromstring(option.product_xml), req.market_of)
    side = OptionType(option.option_type).holder_underlying_side
    earlier = [Exercise(interval, rate) for interval, rate in transactions.exercises_of(req.conn, option.pk)]
    asked = []
    for element in req.payload.iter(q(TEMIX, "exercise")):
        quantity = m.required(element, q(EMIX, "quantity"))
        wanted = Exercise(m.read_interval(element, market.tz), m.rate_of(quantity, "W", option.rate_scale))
        asked.append((m.text_of(element, q(EI, "transactionID")), quantity.text.strip(), wanted))
    check_exercises(
        option.interval, option.quantity_kw, earlier, [wanted for _, _, wanted in asked],
        req.now, market.lead_time, market.granularity,
    )
    made, changes, rows = [], [], []
    for transaction_id, quantity_text, wanted in asked:
        terms = replace(
            accepted.terms, side=side, interval=wanted.interval,
            price_per_kwh=option.strike_per_kwh, quantity_kw=wanted.rate_kw,
        )
        product = replace(accepted, terms=terms, option=None, transactive_state="exercise")
        xml = m.exercised_product(accepted.element, wanted.interval, quantity_text, side, transaction_id)
        row = transactions.new_row(
            req.party_id, req.request_id, writer_id, transaction_id, option.tender_pk, product,
            etree.tostring(xml, method="c14n"),
        )
        row["option_transaction_pk"] = option.pk
        rows.append(row)
        changes += positions.changes_for_transaction(req.party_id, writer_id, terms)
        made.append(transaction_id)
    transactions.queue_transactions(req.uow, req.party_id, rows)
    positions.apply(req.uow, changes)
    return reply_exercised_option(req, ok(req), made)
