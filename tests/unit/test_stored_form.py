"""Products as the store keeps them: only the namespaces they use, nothing else changed."""

from lxml import etree

from service.soap.stored import stored_form
from service.soap.ns import EMIX, q
from tests.support import messages as M

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def product_in_envelope(**fields) -> etree._Element:
    """The emix:product of a parsed request, with the envelope's namespaces in scope."""
    envelope = etree.fromstring(M.envelope(M.create_tender("r1", "party-A", "party-B", ("t1", M.product(**fields)))))
    return envelope.find(f".//{q(EMIX, 'product')}")


def declared(data: bytes) -> dict:
    return etree.fromstring(data).nsmap


def test_only_the_namespaces_the_product_uses_are_declared():
    product = product_in_envelope()
    assert set(product.nsmap.values()) > set(declared(stored_form(product)).values())
    used = {etree.QName(e).namespace for e in product.iter()}
    assert set(declared(stored_form(product)).values()) == used


def test_the_stored_form_is_the_same_product():
    product = product_in_envelope(side="buy", quantity="2.5")
    def exclusive(data: bytes) -> bytes:  # exclusive C14N: only the namespaces used are written
        return etree.tostring(etree.fromstring(data), method="c14n", exclusive=True)

    assert exclusive(stored_form(product)) == exclusive(etree.tostring(product))


def test_a_product_with_an_xsi_type_keeps_every_declaration():
    # the prefix in the value may be declared for nothing else
    for value in ("soap:Anything", "Anything"):
        product = product_in_envelope()
        next(iter(product)).set(f"{{{XSI}}}type", value)
        assert stored_form(product) == etree.tostring(product)
        assert declared(stored_form(product))["soap"] == product.nsmap["soap"]
