"""EiRequestPosition (extension): a party's own positions as a profile."""

from __future__ import annotations

from datetime import UTC

from lxml import etree

from service.domain.errors import InvalidValueError
from service.domain.intervals import parse_resolution
from service.domain.positions import delivered, profile
from service.handlers import Request, ok, reply_positions
from service.soap import mapping as m
from service.soap.ns import EMIX, TEMIX, q
from service.store import positions

MAX_PROFILE_STEPS = 10_000


def request_position(req: Request) -> etree._Element:
    """The party's own positions over a window, as a profile: raw steps or a fixed grid."""
    window = m.read_interval(req.payload.find(q(TEMIX, "window")), UTC)
    resolution = req.text(q(TEMIX, "resolution"))
    step = parse_resolution(resolution) if resolution else None
    if step is not None and window.seconds // int(step.total_seconds()) > MAX_PROFILE_STEPS:
        raise InvalidValueError(f"More than {MAX_PROFILE_STEPS} steps asked: widen the resolution")
    kind = req.text(q(TEMIX, "productKind"))
    interface = m.position_interface(req.payload)
    found = positions.read_window(
        req.uow, req.party_id, window, req.texts(q(EMIX, "marketContext")), kind, interface
    )
    items = [m.position(held.key, held.profile(step)) for held in found]
    if req.text(q(TEMIX, "combineTransport")) in ("true", "1"):
        items += [m.position(key, profile(*held, window, step)) for key, held in _delivered(found)]
    return reply_positions(req, ok(req), items)


def _delivered(found: list[positions.PositionWindow]):
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
            key = positions.PositionKey(found[0].key.party_id, market_context, "delivered", "", node)
            yield key, held
