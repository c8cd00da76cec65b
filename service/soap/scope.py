"""The ``temix:distributionScope`` SOAP header of EiDistributeTender: whom to reach.

    <soap:Header>
      <wsse:Security>...</wsse:Security>
      <temix:distributionScope>
        <temix:group>north</temix:group>
        <temix:serviceArea>ZONE-7</temix:serviceArea>
      </temix:distributionScope>
    </soap:Header>

Without it (or empty) a tender reaches every party enrolled in its market context. Groups
narrow that to parties in one of the groups, service areas to parties in one of the areas;
both given, both must hold. The header is validated against ``schemas/temix-ext.xsd`` like
the payload; SOAP's own ``soap:mustUnderstand`` / ``soap:actor`` on it are allowed.
"""

from __future__ import annotations

import copy

from lxml import etree

from service.domain.commands import DistributionScope
from service.soap.faults import SchemaValidationFault, SoapEnvelopeFault
from service.soap.ns import SOAP11_ENV, TEMIX, q
from service.soap.schema import SchemaSet

SCOPE = q(TEMIX, "distributionScope")
GROUP = q(TEMIX, "group")
SERVICE_AREA = q(TEMIX, "serviceArea")


def read_distribution_scope(header: list[etree._Element] | None, schemas: SchemaSet) -> DistributionScope:
    """The scope among the SOAP header entries, or the empty scope if there is none.

    Raises SchemaValidationFault for an invalid header (each error with its element path and
    line) and SoapEnvelopeFault for more than one.
    """
    found = [element for element in header or () if element.tag == SCOPE]
    if not found:
        return DistributionScope()
    if len(found) > 1:
        lines = ", ".join(str(element.sourceline) for element in found)
        raise SoapEnvelopeFault(f"At most one temix:distributionScope header (found on lines {lines})")
    scope = found[0]
    errors = schemas.errors(_without_soap_attributes(scope))
    if errors:
        raise SchemaValidationFault(
            f"Schema-invalid temix:distributionScope header (line {scope.sourceline}): " + "; ".join(errors[:5])
        )
    return DistributionScope(groups=_names(scope, GROUP), service_areas=_names(scope, SERVICE_AREA))


def _without_soap_attributes(element: etree._Element) -> etree._Element:
    """A copy (same line numbers) without the SOAP 1.1 header attributes any header entry may carry."""
    bare = copy.deepcopy(element)
    for name in [name for name in bare.attrib if name.startswith(f"{{{SOAP11_ENV}}}")]:
        del bare.attrib[name]
    return bare


def _names(scope: etree._Element, tag: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((child.text or "").strip() for child in scope.iter(tag)))
