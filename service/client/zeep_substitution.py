"""Substitution groups for zeep: a plugin, and a helper to build substituted values.

Why this exists. The CTS 0.4 schemas put the real content of a message behind XSD
substitution groups: ``ei:eiTender`` holds ``emix:emixBase`` (abstract), written as
``emix:product``; inside it ``strm:streamPayloadBase`` is written ``power:temixPower``,
``emix:emixInterface`` is ``power:pnode`` or ``power:transportInterface``, ``power:powerItem``
is ``power:powerReal``, and so on. .NET (XmlSerializer, WCF) and Java (CXF/JAXB) handle
substitution groups natively; zeep 4.3 ignores them: it writes the head with an xsi:type
(``<emix:emixBase xsi:type="emix:ProductType">``), which the schemas (and our server) refuse,
and in strict mode it cannot read a reply holding the member: "Unexpected element
'{...cts.04}product', expected '{...cts.04}emixBase'".

``SubstitutionPlugin`` rewrites the XML on both sides of zeep:

* egress: an element named after a head and carrying an xsi:type whose global element is a
  member of that head's group is renamed to the member, and the xsi:type dropped
  (``<emix:emixBase xsi:type="emix:ProductType">`` -> ``<emix:product>``);
* ingress: a member found where the parent's content model (as zeep compiled it) names one of
  its heads, not the member itself, is renamed to that head with xsi:type set to the member's
  type, so zeep reads it into the derived type (``<emix:product>`` inside ``ei:eiTender`` ->
  ``<emix:emixBase xsi:type="emix:ProductType">``; ``emix:price`` inside
  ``power:temixPower`` stays, since TemixPowerType names ``emix:price`` itself).

Building a tender: give each head's field (``emixBase``, ``streamPayloadBase``,
``emixInterface``, ``powerItem``...) the value ``substitute(client, MEMBER, **fields)``
(tests/e2e/test_zeep_client.py runs this very example)::

    client = zeep.Client(f"{base}/EiTender?wsdl", settings=zeep.Settings(strict=True),
                         wsse=UsernameToken(party_a, "secret-A", use_digest=True),
                         plugins=[SubstitutionPlugin()])
    power = substitute(client, "power:temixPower",
                       emixInterface=substitute(client, "power:pnode", node="NODE-1"),
                       price={"value": Decimal("0.08")}, quantity=Decimal("10"),
                       powerItem=substitute(client, "power:powerReal", itemDescription="RealPower",
                                            itemUnits="W", siScaleCode="k",
                                            powerAttributes={"hertz": 60, "voltage": 240, "ac": True}))
    product = substitute(client, "emix:product", dtStart={"dateTime": datetime(2030, 1, 1, 10, tzinfo=UTC)},
                         duration="PT1H", streamPayloadBase=power, uid="product-1", side="sell",
                         transactiveState="tender", marketContext="http://market.example.com/temix/ctx1")
    reply = client.service.EiCreateTender(requestID=str(uuid.uuid4()), partyID=party_a,
                                          counterPartyID=party_b,
                                          eiTender=[{"tenderID": tender_id, "emixBase": product}])

Replies read the same way: ``reply.eiTender[0].emixBase.streamPayloadBase.quantity``.

The groups are transcribed in ``SUBSTITUTION_GROUPS`` so the plugin needs no schema files;
tests/unit/test_zeep_substitution.py recomputes the table from schemas/oasis/cts-xsd. Only
complex-typed groups are listed: the simple-typed ones (``ei:refID``, ``ei:actorID``) are
left out, their members having the head's own type (ei:UidType) and the CTS messages naming
those members (``ei:tenderID``, ``ei:partyID``...) directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree
from zeep import Plugin
from zeep.exceptions import LookupError as ZeepLookupError
from zeep.exceptions import NamespaceError
from zeep.xsd.valueobjects import CompoundValue

from service.soap.ns import NSMAP

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# member element -> (the head of its substitution group, its type; None for an abstract
# member, which only links a chain: power:temixPower -> emix:productDescription ->
# strm:streamPayloadBase). From the xs:element declarations of schemas/oasis/cts-xsd, in
# file order: emix-terms.xsd, emix.xsd, power-products.xsd, power.xsd; then temix-ext.xsd.
SUBSTITUTION_GROUPS: dict[str, tuple[str, str | None]] = {
    "emix:minimumResponseDuration": ("emix:baseTerm", "emix:MinimumResponseDurationType"),
    "emix:maximumResponseDuration": ("emix:baseTerm", "emix:MaximumResponseDurationType"),
    "emix:minimumRecoveryDuration": ("emix:baseTerm", "emix:MinimumRecoveryDurationType"),
    "emix:minimumDurationBetweenInvocations": ("emix:baseTerm", "emix:MinimumDurationBetweenInvocationsType"),
    "emix:minimumNotificationDuration": ("emix:baseTerm", "emix:MinimumNotificationDurationType"),
    "emix:maximumNotificationDuration": ("emix:baseTerm", "emix:MaximumNotificationDurationType"),
    "emix:responseTime": ("emix:baseTerm", "emix:ResponseTimeType"),
    "emix:maximumInvocationsPerDuration": ("emix:baseTerm", "emix:MaximumInvocationsPerDurationType"),
    "emix:maximumConsecutiveDurations": ("emix:baseTerm", "emix:MaximumConsecutiveDurationsType"),
    "emix:maximumRunDuration": ("emix:baseTerm", "emix:MaximumRunDurationType"),
    "emix:minimumRunDuration": ("emix:baseTerm", "emix:MinimumRunDurationType"),
    "emix:availabilitySchedule": ("emix:baseTerm", "emix:AvailabilityScheduleType"),
    "emix:notificationSchedule": ("emix:baseTerm", "emix:NotificationScheduleType"),
    "emix:unavailabilitySchedule": ("emix:baseTerm", "emix:UnavailabilityScheduleType"),
    "emix:minimumEconomicRequirement": ("emix:baseTerm", "emix:MinimumEconomicRequirementType"),
    "emix:requiredStartupRemuneration": ("emix:baseTerm", "emix:RequiredStartupRemunerationType"),
    "emix:minimumStartsPerDuration": ("emix:baseTerm", "emix:MinimumStartsPerDurationType"),
    "emix:minimumRemunerationRate": ("emix:baseTerm", "emix:MinimumRemunerationRateType"),
    "emix:marketGranularity": ("emix:baseTerm", "emix:MarketGranularityType"),
    "emix:product": ("emix:emixBase", "emix:ProductType"),
    "emix:emixOption": ("emix:emixBase", "emix:EmixOptionType"),
    "emix:delivery": ("emix:emixBase", "emix:DeliveryType"),
    "emix:price": ("emix:priceBase", "emix:PriceType"),
    "emix:priceMultiplier": ("emix:priceBase", "emix:PriceMultiplierType"),
    "emix:priceRelative": ("emix:priceBase", "emix:PriceRelativeType"),
    "emix:productDescription": ("strm:streamPayloadBase", None),
    "emix:serviceArea": ("emix:emixInterface", "emix:ServiceAreaType"),
    "emix:measurement": ("emix:productDescription", "strm:StreamPayloadBaseType"),
    "power:powerProductDescription": ("emix:productDescription", "power:PowerProductDescriptionType"),
    "power:fullRequirementsPower": ("power:powerProductDescription", "power:FullRequirementsPowerType"),
    "power:transportProductDescription": (
        "power:powerProductDescription", "power:TransportProductDescriptionType"
    ),
    "power:temixPower": ("emix:productDescription", "power:TemixPowerType"),
    "power:baseTransportCharge": ("power:baseCharge", None),
    "power:congestionRevenueRights": ("power:baseTransportCharge", "power:CongestionRevenueRightsType"),
    "power:congestionCharge": ("power:baseTransportCharge", "power:CongestionChargeType"),
    "power:marginalLossCharge": ("power:baseTransportCharge", "power:MarginalLossChargeType"),
    "power:marginalLoss": ("power:baseTransportCharge", "power:MarginalLossType"),
    "power:conversionLoss": ("power:baseTransportCharge", "power:ConversionLossType"),
    "power:transportAccessFee": ("power:baseTransportCharge", "power:TransportAccessFeeType"),
    "power:endDeviceAsset": ("emix:emixInterface", "power:EndDeviceAssetType"),
    "power:meterAsset": ("emix:emixInterface", "power:MeterAssetType"),
    "power:pnode": ("emix:emixInterface", "power:PnodeType"),
    "power:aggregatedPnode": ("emix:emixInterface", "power:AggregatedPnodeType"),
    "power:serviceLocation": ("emix:emixInterface", "power:ServiceLocationType"),
    "power:serviceDeliveryPoint": ("emix:emixInterface", "power:ServiceDeliveryPointType"),
    "power:transportInterface": ("emix:emixInterface", "power:TransportInterfaceType"),
    "power:voltage": ("emix:itemBase", "power:VoltageType"),
    "power:energyApparent": ("power:energyItem", "power:EnergyApparentType"),
    "power:energyReactive": ("power:energyItem", "power:EnergyReactiveType"),
    "power:energyReal": ("power:energyItem", "power:EnergyRealType"),
    "power:energyItem": ("emix:itemBase", "power:EnergyItemType"),
    "power:powerApparent": ("power:powerItem", "power:PowerApparentType"),
    "power:powerReactive": ("power:powerItem", "power:PowerReactiveType"),
    "power:powerReal": ("power:powerItem", "power:PowerRealType"),
    "power:powerItem": ("emix:itemBase", "power:PowerItemType"),
    # temix-ext.xsd: the TeMIX members of the CTS abstract registration elements
    "temix:registrationInfo": ("ei:eiRegistrationInfo", "temix:RegistrationInfoType"),
    "temix:registration": ("ei:eiRegistration", "temix:RegistrationType"),
    # temix-ext.xsd: an emix:delivery's stream payload with its market context
    "temix:meteredPower": ("emix:productDescription", "temix:MeteredPowerType"),
}


def clark(name: str) -> str:
    """'power:pnode' -> '{http://docs.oasis-open.org/ns/emix/2011/06/power/cts.04}pnode'."""
    if name.startswith("{"):
        return name
    prefix, _, local = name.partition(":")
    return f"{{{NSMAP[prefix]}}}{local}"


def substitute(client, member: str, **fields: Any) -> CompoundValue:
    """The value of a head's field written as ``member`` (e.g. 'power:pnode'): the member's
    type built from ``fields``. zeep renders it as the head with that xsi:type, which
    ``SubstitutionPlugin`` turns into the member."""
    type_name = SUBSTITUTION_GROUPS[member][1]
    if type_name is None:
        raise ValueError(f"{member} is abstract: use one of its members")
    return client.get_type(clark(type_name))(**fields)


class SubstitutionPlugin(Plugin):
    """Writes substitution-group members for zeep's head + xsi:type, and reads them back."""

    def __init__(self, groups: Mapping[str, tuple[str, str | None]] = SUBSTITUTION_GROUPS):
        head_of = {clark(member): clark(head) for member, (head, _) in groups.items()}
        self._type_of = {clark(member): clark(t) for member, (_, t) in groups.items() if t}
        # member -> every head it may stand for, nearest first: temixPower -> (productDescription,
        # streamPayloadBase); only the non-abstract members, the ones that appear in messages.
        self._heads_of = {member: tuple(_chain(member, head_of)) for member in self._type_of}
        # (head, xsi:type) -> member
        self._member_of = {
            (head, self._type_of[member]): member
            for member, heads in self._heads_of.items()
            for head in heads
        }

    def egress(self, envelope, http_headers, operation, binding_options):
        for node in envelope.iter(etree.Element):
            type_name = _xsi_type(node)
            member = self._member_of.get((node.tag, type_name)) if type_name else None
            if member is not None:
                node.tag = member
                del node.attrib[XSI_TYPE]
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        schema = operation.binding.wsdl.types
        body = envelope.find(f"{{{etree.QName(envelope).namespace}}}Body")
        for payload in body if body is not None else ():
            try:
                element = schema.get_element(payload.tag)
            except (ZeepLookupError, NamespaceError):
                continue  # a Fault, or not described by the WSDL
            self._restore_heads(payload, element.type, schema)
        return envelope, http_headers

    def _restore_heads(self, node: etree._Element, xsd_type, schema) -> None:
        """Rename, below ``node`` of ``xsd_type``, each member standing where a head is named."""
        expected = {
            str(element.qname): element
            for _, element in getattr(xsd_type, "elements", ())
            if getattr(element, "qname", None) is not None
        }
        for child in node.iterchildren(etree.Element):
            element = expected.get(child.tag)
            if element is None:
                head = next((h for h in self._heads_of.get(child.tag, ()) if h in expected), None)
                if head is not None:
                    # The type first, resolved where the member's namespace is declared.
                    child.set(XSI_TYPE, _qname_value(child, self._type_of[child.tag]))
                    child.tag = head
                    element = expected[head]
            if element is None:
                continue  # not named here: zeep reports it (strict) or skips it
            self._restore_heads(child, _declared_type(child, element, schema), schema)


def _chain(member: str, head_of: Mapping[str, str]) -> Iterator[str]:
    head = head_of[member]
    while head is not None:
        yield head
        head = head_of.get(head)


def _declared_type(node: etree._Element, element, schema):
    """The zeep type of ``node``: its xsi:type if zeep knows it, else its element's type."""
    type_name = _xsi_type(node)
    if type_name:
        try:
            return schema.get_type(type_name)
        except (ZeepLookupError, NamespaceError):
            pass
    return element.type


def _qname_value(node: etree._Element, name: str) -> str | etree.QName:
    """``name`` ('{ns}local') as an attribute value that resolves on ``node``."""
    namespace, _, local = name[1:].partition("}")
    prefixes = [prefix for prefix, uri in node.nsmap.items() if uri == namespace]
    if any(prefixes):
        return f"{next(p for p in prefixes if p)}:{local}"
    if prefixes:
        # Only the default namespace: spelled out, as lxml 6.1 crashes (SIGSEGV) writing it.
        return local
    return etree.QName(namespace, local)  # not declared: lxml declares a prefix for it


def _xsi_type(node: etree._Element) -> str | None:
    """The node's xsi:type in Clark notation, None if it has none (or an unknown prefix)."""
    value = node.get(XSI_TYPE)
    if not value:
        return None
    prefix, _, local = value.strip().rpartition(":")
    namespace = node.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else None
