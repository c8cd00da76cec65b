"""The design's boundaries, checked: the import graph between the parts of service/, and the
one operation table against the WSDLs and the schemas."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from service import pipeline
from service.config import REPO_ROOT, Settings
from datetime import UTC, datetime

from service.domain.commands import (
    CanceledRegistration,
    CanceledTender,
    CreatedRegistration,
    CreatedTender,
    CreatedTransaction,
    DistributedTender,
    ExercisedOption,
    MarketContextTerms,
    OrderBooks,
    PositionReport,
    RegistrationList,
    TenderList,
    TransactionList,
)
from service.domain.quotes import (
    CanceledQuote,
    CreatedQuote,
    QuoteList,
    ShownQuote,
    TradeKey,
    Traded,
    TradePrice,
)
from service.domain.deliveries import CreatedDelivery, DeliveryAsked, MeteredDelivery, RecordCounts, ReportedDelivery
from service.domain.markets import MarketContext
from service.domain.matching import BookDepth, BookKey, PriceLevel
from service.domain.registrations import Memberships, Registration
from service.soap.schema import SchemaSet
from service.soap.writers import Answer
from tests.support import messages as msg

SERVICE = REPO_ROOT / "service"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (at any depth of the file), as dotted names; ``from a
    import b`` counts as importing both ``a`` and ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def part_imports(part: str) -> dict[str, set[str]]:
    """file (relative to service/) -> what it imports, for every file of ``service/<part>``."""
    return {
        str(path.relative_to(SERVICE)): imports_of(path) for path in sorted((SERVICE / part).rglob("*.py"))
    }


def offending(part: str, forbidden) -> list[str]:
    return [
        f"service/{file} imports {name}"
        for file, names in part_imports(part).items()
        for name in sorted(names)
        if forbidden(name)
    ]


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_the_walk_sees_the_imports_it_judges():
    """The checks below would pass on an empty graph: make sure the walk finds imports."""
    pipeline_imports = imports_of(SERVICE / "pipeline.py")
    assert {"lxml", "service.handlers", "service.soap.readers", "service.store.uow"} <= pipeline_imports
    assert "service.domain.commands" in part_imports("handlers")["handlers/tenders.py"]


def test_handlers_know_no_xml_and_no_soap():
    assert offending("handlers", lambda name: within(name, "lxml", "service.soap")) == []


def test_the_soap_layer_calls_no_business_code_and_no_store():
    assert offending("soap", lambda name: within(name, "service.handlers", "service.store", "service.pipeline")) == []


def test_the_store_knows_no_wire_format():
    assert offending("store", lambda name: within(name, "lxml", "service.soap", "service.handlers")) == []


def test_the_domain_is_standard_library_only():
    def foreign(name: str) -> bool:
        return name.split(".")[0] not in sys.stdlib_module_names and not within(name, "service.domain")

    assert offending("domain", foreign) == []


# ---------------------------------------------------------------- the table and the WSDLs


def wsdl_operations() -> dict[str, dict]:
    """operation name -> its endpoint, request and reply element tags and SOAP headers, from schemas/*.wsdl."""
    found = {}
    for path in sorted((REPO_ROOT / "schemas").glob("*.wsdl")):
        root = etree.parse(str(path)).getroot()

        def element_of(message_ref: str) -> str:
            name = message_ref.split(":")[-1]
            part = root.find(f"{{{WSDL}}}message[@name='{name}']/{{{WSDL}}}part")
            prefix, local = part.get("element").split(":")
            return f"{{{part.nsmap[prefix]}}}{local}"

        address = root.find(f".//{{{WSDL}}}port/{{{WSDL_SOAP}}}address").get("location")
        endpoint = address.rstrip("/").rsplit("/", 1)[-1]
        for operation in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation"):
            name = operation.get("name")
            bound = root.find(f"{{{WSDL}}}binding/{{{WSDL}}}operation[@name='{name}']")
            headers = bound.iterfind(f"{{{WSDL}}}input/{{{WSDL_SOAP}}}header")
            found[name] = dict(
                endpoint=endpoint,
                request=element_of(operation.find(f"{{{WSDL}}}input").get("message")),
                reply=element_of(operation.find(f"{{{WSDL}}}output").get("message")),
                headers=sorted(
                    element_of(header.get("message")) for header in headers
                ),
            )
    return found


def test_every_wsdl_operation_has_a_row_and_every_row_a_wsdl_operation():
    published = wsdl_operations()
    assert len(published) == 18
    assert sorted(published) == sorted(pipeline.OPERATIONS)
    for operation in pipeline.TABLE:
        assert published[operation.name] == dict(
            endpoint=operation.endpoint,
            request=operation.request,
            reply=operation.reply,
            headers=sorted(header.tag for header in operation.headers),
        ), operation.name


def test_the_derived_maps_follow_the_table():
    assert set(pipeline.PAYLOADS) == {operation.request for operation in pipeline.TABLE}
    assert pipeline.REPLY_TAGS == {operation.reply for operation in pipeline.TABLE}
    scope = "{urn:temix:ei-ext:2026-11}distributionScope"
    assert pipeline.UNDERSTOOD[scope] == {
        pipeline.OPERATIONS["EiDistributeTender"].request, pipeline.OPERATIONS["EiCreateQuote"].request
    }


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    settings = Settings.from_env(environ={}, data_dir=Path("/nonexistent"), database_url="postgresql://unused/")
    return SchemaSet(settings.schema_dir, settings.schema_entry)


RESULTS = {
    "EiCreateTender": CreatedTender(("t1", "t2")),
    "EiDistributeTender": DistributedTender(2, ("t1",)),
    "EiCancelTender": CanceledTender(),
    "EiRequestTender": TenderList(()),
    "EiCreateTransaction": CreatedTransaction(("x1",)),
    "EiRequestTransaction": TransactionList(()),
    "EiRequestPosition": PositionReport(()),
    "EiExerciseOption": ExercisedOption(("x1",)),
    "EiCreateQuote": CreatedQuote(("q1", "q2")),
    "EiCancelQuote": CanceledQuote(),
    "EiRequestQuote": QuoteList((
        ShownQuote("q1", etree.tostring(msg.product(state="indicationOfInterest"))),
        TradePrice(
            "trade-1",
            TradeKey(msg.CTX, "transport", "NODE-1", "NODE-2", datetime(2030, 1, 1, 10, tzinfo=UTC),
                     datetime(2030, 1, 1, 10, 15, tzinfo=UTC), "USD"),
            Traded(Decimal("0.08"), Decimal("2.5"), Decimal("0.21"), 2),
        ),
    )),
    "EiRequestEiMarketContext": MarketContextTerms(
        (MarketContext("http://a.example/ctx", "Europe/Berlin", "EUR", "MWh", "PT2H", "PT15M"), MarketContext("urn:b"))
    ),
    "EiCreatePartyRegistration": CreatedRegistration("reg-1", "party-B"),
    "EiRequestPartyRegistration": RegistrationList((
        Registration("reg-1", "party-B", "party-A", Memberships.of(["http://m.example/ctx"], ["g"], ["z"]),
                     datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)),
        Registration("reg-2", "party-B", "party-A", Memberships(), datetime(2030, 1, 1, tzinfo=UTC)),
    )),
    "EiCancelPartyRegistration": CanceledRegistration(("reg-1",)),
    "EiReportDelivery": ReportedDelivery(RecordCounts(2, 1, 0)),
    "EiCreateDelivery": CreatedDelivery((
        MeteredDelivery(DeliveryAsked("d1", msg.CTX, "NODE-1", datetime(2030, 1, 1, 10, tzinfo=UTC),
                                      datetime(2030, 1, 1, 11, tzinfo=UTC), False), "delivery-1", Decimal("1.25")),
        MeteredDelivery(DeliveryAsked("d2", msg.CTX, "NODE-1", datetime(2030, 1, 1, 10, tzinfo=UTC),
                                      datetime(2030, 1, 1, 11, tzinfo=UTC), True), "delivery-2", None),
    ), datetime(2030, 1, 2, tzinfo=UTC)),
    "EiRequestBook": OrderBooks((
        BookDepth(
            BookKey(msg.CTX, "energy", "", "NODE-1", datetime(2030, 1, 1, 10, tzinfo=UTC),
                    datetime(2030, 1, 1, 11, tzinfo=UTC), "USD"),
            bids=(PriceLevel(Decimal("0.08"), Decimal("2.5"), 2),),
            offers=(PriceLevel(Decimal("0.09"), Decimal(1), 1), PriceLevel(Decimal("0.1"), Decimal(3), 2)),
        ),
    )),
}


@pytest.mark.parametrize("operation", pipeline.TABLE, ids=lambda operation: operation.name)
def test_each_rows_replies_validate_against_the_schemas(operation, schemas):
    for counterparty in ("party-B", None):
        refusal = operation.write(Answer("r1", "party-A", counterparty, "404", "No such thing"), None)
        assert refusal.tag == operation.reply
        assert schemas.errors(refusal) == []
    accepted = operation.write(Answer("r1", "party-A", "party-B"), RESULTS[operation.name])
    assert schemas.errors(accepted) == []
