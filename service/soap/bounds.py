"""The payload's and header's sizes checked before anything reads them: no text longer and
no element repeated more often than ``service.domain.limits`` allows.

Checked first, as SOAP faults, so that nothing is stored, logged or echoed of an oversize
value (an over-long requestID would otherwise be the key of the refusal's log row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container

from lxml import etree

from service.domain.limits import MAX_ITEMS, MAX_TEXT_CHARS
from service.soap.faults import TooManyItemsFault, ValueTooLongFault
from service.soap.mapping import where


def check_bounds(header: list[etree._Element] | None, payload: etree._Element, read_headers: Container[str]) -> None:
    """Raise ValueTooLongFault or TooManyItemsFault naming the first element over a bound,
    in the payload or a header entry the service reads (``read_headers``: others are not
    ours to bound). One walk in Python, cheaper than the same checks as libxml2 XPath."""
    for root in (*(entry for entry in header or () if entry.tag in read_headers), payload):
        for element in root.iter(etree.Element):  # elements only: comments are not read
            text = element.text
            # the text of an element with children is indentation, and is not read
            if text is not None and len(text) > MAX_TEXT_CHARS and not len(element):
                raise ValueTooLongFault(
                    f"{etree.QName(element).localname} is {len(text)} characters long, more than "
                    f"the {MAX_TEXT_CHARS} the service takes, at {where(element)}"
                )
            if len(element) > MAX_ITEMS:
                _check_repeats(element)


def _check_repeats(parent: etree._Element) -> None:
    tag, count = Counter(child.tag for child in parent.iterchildren(etree.Element)).most_common(1)[0]
    if count > MAX_ITEMS:
        raise TooManyItemsFault(
            f"{count} {etree.QName(tag).localname} elements in {where(parent)}: at most {MAX_ITEMS} in one request"
        )
