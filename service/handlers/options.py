"""EiExerciseOption (extension): the holder of an option transaction calls its underlying."""

from __future__ import annotations

from dataclasses import replace

from service.domain import audit
from service.domain.audit import Subject
from service.domain.commands import ExercisedOption, ExerciseOption
from service.domain.errors import NotFoundError, NotPermittedError
from service.domain.options import Exercise, OptionType, check_exercises, exercise_of, holder_of
from service.domain.positions import changes_for_transaction
from service.domain.products import Product
from service.domain.quotes import published
from service.handlers import Context
from service.store.transactions import NewTransaction


def exercise_option(cmd: ExerciseOption, uow, ctx: Context) -> ExercisedOption:
    option = uow.transactions.lock_option(ctx.party_id, cmd.writer_id, cmd.option_id)
    if option is None:
        raise NotFoundError(f"No option transaction {cmd.option_id!r} between you and {cmd.writer_id!r}")
    holder_id, _ = holder_of(option.acceptor_id, option.maker_id, option.acceptor_side, option.holder_side)
    if holder_id != ctx.party_id:
        raise NotPermittedError(f"Option {cmd.option_id!r} is held by {holder_id!r}: only its holder exercises it")
    market = ctx.market_of(option.terms.market_context)
    side = OptionType(option.option_type).holder_underlying_side
    earlier = [Exercise(interval, rate) for interval, rate in uow.transactions.exercises_of(option.pk)]
    wanted = [
        exercise_of(
            asked.start, asked.duration_text, asked.duration_at, asked.quantity, asked.quantity_at,
            market.tz, option.rate_scale,
        )
        for asked in cmd.exercises
    ]
    check_exercises(
        option.terms.interval, option.terms.quantity_kw, earlier, wanted, ctx.now, market.lead_time, market.granularity
    )
    made, changes, trades = [], [], []
    for asked, exercise in zip(cmd.exercises, wanted):
        terms = replace(
            option.terms, side=side, interval=exercise.interval,
            price_per_kwh=option.strike_per_kwh, quantity_kw=exercise.rate_kw,
        )
        product = Product(terms, "exercise", rate_scale=option.rate_scale)
        form = ctx.forms.exercised(option.stored_form, exercise.interval, asked.quantity_text, side, asked.transaction_id)
        made.append(NewTransaction(asked.transaction_id, option.tender_pk, product, form, option_pk=option.pk))
        changes += changes_for_transaction(ctx.party_id, cmd.writer_id, terms)
        trades.append(terms)
        details = dict(audit.terms_details(terms), option_transaction_id=cmd.option_id)
        subject = Subject(ctx.party_id, cmd.writer_id, transaction_id=asked.transaction_id)
        uow.audit.record(audit.OPTION_EXERCISED, subject, details)
    uow.transactions.add(ctx.party_id, ctx.request_id, cmd.writer_id, made)
    uow.positions.apply(changes)
    uow.quotes.publish(published(trades), ctx.now)
    return ExercisedOption(tuple(asked.transaction_id for asked in cmd.exercises))
