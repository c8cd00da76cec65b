"""The payload's and header's sizes checked before anything reads them: no text longer and
no element repeated more often than ``service.domain.limits`` allows.

Checked first, as SOAP faults, so that nothing is stored, logged or echoed of an oversize
value (an over-long requestID would otherwise be the key of the refusal's log row). Both
checks are one XPath pass each, in libxml2, so a well-sized request pays microseconds.
"""

from __future__ import annotations

from collections import Counter

from lxml import etree

from service.domain.limits import MAX_ITEMS, MAX_TEXT_CHARS
from service.soap.faults import TooManyItemsFault, ValueTooLongFault
from service.soap.mapping import where
from service.soap.ns import WSSE, q
from service.soap.scope import SCOPE

# header entries the service reads; others are not ours to bound
READ_HEADERS = (q(WSSE, "Security"), SCOPE)

# Leaves only: the text of an element with children is indentation, and is not read.
_LONG_TEXT = etree.XPath(f"descendant-or-self::*[not(*)][string-length() > {MAX_TEXT_CHARS}]")
_CROWDED = etree.XPath(f"descendant-or-self::*[count(*) > {MAX_ITEMS}]")


def check_bounds(header: list[etree._Element] | None, payload: etree._Element) -> None:
    """Raise ValueTooLongFault or TooManyItemsFault naming the first element over a bound."""
    entries = [entry for entry in header or () if entry.tag in READ_HEADERS]
    for root in (*entries, payload):
        for element in _LONG_TEXT(root):
            raise ValueTooLongFault(
                f"{etree.QName(element).localname} is {len(''.join(element.itertext()))} characters "
                f"long, more than the {MAX_TEXT_CHARS} the service takes, at {where(element)}"
            )
        for parent in _CROWDED(root):
            tag, count = Counter(child.tag for child in parent.iterchildren(etree.Element)).most_common(1)[0]
            if count > MAX_ITEMS:
                raise TooManyItemsFault(
                    f"{count} {etree.QName(tag).localname} elements in {where(parent)}: "
                    f"at most {MAX_ITEMS} in one request"
                )

