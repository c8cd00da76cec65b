"""EiRequestPosition (extension): a party's own positions as a profile."""

from __future__ import annotations

from service.domain.commands import PositionReport, RequestPosition
from service.domain.positions import PositionKey, delivered, profile
from service.handlers import Context


def request_position(cmd: RequestPosition, uow, ctx: Context) -> PositionReport:
    """The party's own positions over a window, as a profile: raw steps or a fixed grid."""
    found = uow.positions.read_window(
        ctx.party_id, cmd.window, cmd.market_contexts, cmd.product_kind, cmd.interface
    )
    report = [(held.key, held.profile(cmd.step)) for held in found]
    if cmd.combine_transport:
        report += [(key, profile(*held, cmd.window, cmd.step)) for key, held in _delivered(found)]
    return PositionReport(tuple(report))


def _delivered(found):
    """("delivered" position key, (opening, changes)) per market context and node."""
    for market_context in sorted({held.key.market_context for held in found}):
        here = [held for held in found if held.key.market_context == market_context]
        energy = {h.key.delivery_node: (h.opening, h.changes) for h in here if h.key.product_kind == "energy"}
        transport = {
            (h.key.receipt_node, h.key.delivery_node): (h.opening, h.changes)
            for h in here
            if h.key.product_kind == "transport"
        }
        for node, held in delivered(energy, transport).items():
            yield PositionKey(found[0].key.party_id, market_context, "delivered", "", node), held
