"""Mutations of valid SOAP requests, for the fuzz test of the faults tier.

``Mutator(rng, ids).mutate(case)`` takes a valid request (``Case``: its payload element, its
WS-Security token and other header entries) and returns the bytes of a mutated envelope with
a short description of what was changed. The mutations are those of a hostile or unlucky
client: structural (elements dropped, duplicated, reordered, renamed, moved to another
namespace, repeated many times), value-level (boundary values in place of any text), wrong or
duplicate IDs of real objects, WS-Security and distribution-scope headers, the envelope
itself, and bytes (truncation, flips). Everything is drawn from ``rng``, so a seed replays.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from service.soap.ns import EI, SOAP11_ENV, WSSE, WSSE_PASSWORD_DIGEST, WSU, NSMAP, q
from tests.support import messages as msg
from tests.support.fuzz_values import (
    DATES, DECIMALS, DURATIONS, HUGE, ID_TAGS, INTERVALS, NAMESPACES, RAW_BYTES, RAW_MARK, SOAP12_ENV, WORDS, WSA, XSI,
    values_for,
)

@dataclass
class Case:
    """A valid request: POSTed to ``path``, signed by ``party`` with ``password``."""

    path: str
    payload: etree._Element
    party: str
    password: str
    headers: list[etree._Element] = field(default_factory=list)


@dataclass
class Mutated:
    data: bytes
    family: str
    detail: str
    content_type: str = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class KnownIds:
    """Real IDs the ID mutations swap in: other objects, other parties, earlier requests."""

    tenders: tuple[str, ...]
    transactions: tuple[str, ...]
    parties: tuple[str, ...]
    request_ids: Callable[[random.Random], str]  # an earlier request's ID
    quotes: tuple[str, ...] = ()
    registrations: tuple[str, ...] = ()


def _short(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"{value[:20]!r}...({len(value)} chars)"


class Mutator:
    def __init__(self, rng: random.Random, ids: KnownIds):
        self.password = ""  # the case's, for signing odd tokens
        self.rng = rng
        self.ids = ids
        self.raw: list[bytes] = []  # raw bytes for RAW_MARK, in order
        self.http_content_type: str | None = None

    # ------------------------------------------------------------------ entry point
    def mutate(self, case: Case) -> Mutated:
        rng = self.rng
        self.raw = []
        self.password = case.password
        payload, headers = copy.deepcopy(case.payload), [copy.deepcopy(h) for h in case.headers]
        digest = rng.random() < 0.2
        token = msg.username_token(case.party, case.password, digest=digest, nonce=rng.randbytes(16) if digest else None)
        if rng.random() < 0.08:  # a valid envelope, its bytes broken
            data, how = self.bytes_(etree.tostring(self.build_envelope(payload, token, headers), xml_declaration=True, encoding="UTF-8"))
            return Mutated(data, "bytes", how)
        families = [
            (self.value, 30), (self.structure, 22), (self.ids_swap, 12), (self.header, 12), (self.envelope, 8),
            (self.attribute, 4), (self.repeat, 2),
        ]
        tree_mutations = rng.choices([f for f, _ in families], [w for _, w in families], k=2 if rng.random() < 0.15 else 1)
        on_envelope = []  # envelope-level changes, applied once the envelope is built
        details = []
        for mutation in tree_mutations:
            result = mutation(payload, token, headers)
            if callable(result):
                on_envelope.append(result)
                details.append(result.__doc__ or mutation.__name__)
            else:
                details.append(result)
        envelope = self.build_envelope(payload, token, headers)
        for change in on_envelope:
            if isinstance(envelope, etree._Element):  # (a change may serialise it: the last then)
                envelope = change(envelope)
        data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8") if isinstance(envelope, etree._Element) else envelope
        for raw in self.raw:
            data = data.replace(RAW_MARK.encode(), raw, 1)
        family = "+".join(m.__name__ for m in tree_mutations)
        if rng.random() < 0.04:  # and sometimes the bytes too
            data, how = self.bytes_(data)
            family, details = family + "+bytes", details + [how]
        return Mutated(data, family, "; ".join(details), self.http_content_type or "text/xml; charset=utf-8")

    def retry(self, case: Case, index: int) -> Mutated:
        """A valid request sent again (request ``index``'s, before its mutation), with other
        namespace prefixes and maybe indented: the same request to the request log."""
        token = msg.username_token(case.party, case.password)
        prefixes = {f"n{number}": uri for number, uri in enumerate(NSMAP.values())}
        envelope = self.build_envelope(case.payload, token, case.headers, prefixes)
        pretty = self.rng.random() < 0.5
        data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)
        return Mutated(data, "retry", f"request {index}'s valid form, other prefixes{', indented' if pretty else ''}")

    @staticmethod
    def build_envelope(payload, token, headers, prefixes=NSMAP) -> etree._Element:
        env = etree.Element(q(SOAP11_ENV, "Envelope"), nsmap={"soap": SOAP11_ENV, **prefixes})
        header = etree.SubElement(env, q(SOAP11_ENV, "Header"))
        if token is not None:
            etree.SubElement(header, q(WSSE, "Security")).append(token)
        header.extend(headers)
        etree.SubElement(env, q(SOAP11_ENV, "Body")).append(payload)
        return env

    # ------------------------------------------------------------------ helpers
    def pick(self, root: etree._Element, text_only=False, include_root=False) -> etree._Element:
        found = [e for e in root.iter(etree.Element) if (include_root or e is not root) and (not text_only or len(e) == 0)]
        return self.rng.choice(found) if found else root

    def text(self, value: str) -> str:
        """``value``, or a raw byte sequence lxml cannot hold (then via RAW_MARK)."""
        if self.rng.random() < 0.08:
            self.raw.append(self.rng.choice(RAW_BYTES))
            return (value[:8] if self.rng.random() < 0.5 else "") + RAW_MARK
        return value

    def boundary(self, local: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.1:  # long, often incompressible (a repeated letter would compress in an index)
            size = rng.choice(HUGE)
            if rng.random() < 0.5:
                return rng.choice("x9 Ü<") * size
            return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789ÜЖ中", k=size))
        pool = values_for(local) if roll < 0.8 else rng.choice([DATES, DURATIONS, DECIMALS, WORDS, INTERVALS])
        return rng.choice(pool)

    # ------------------------------------------------------------------ families
    def value(self, payload, token, headers) -> str:
        """One text replaced by a boundary value."""
        target = self.pick(payload, text_only=True)
        local = etree.QName(target).localname
        value = self.boundary(local)
        target.text = self.text(value)
        return f"{local} := {_short(value)}" + (" (+raw bytes)" if self.raw else "")

    def structure(self, payload, token, headers) -> str:
        rng = self.rng
        target = self.pick(payload)
        local = etree.QName(target).localname
        parent = target.getparent()
        how = rng.choice(["drop", "duplicate", "reorder", "rename", "namespace", "unknown child", "empty", "text in"])
        if how == "drop":
            parent.remove(target)
        elif how == "duplicate":
            target.addnext(copy.deepcopy(target))
        elif how == "reorder":
            parent.remove(target)
            parent.insert(rng.randrange(len(parent) + 1), target)
        elif how == "rename":  # the tag of another element of the message
            other = self.pick(payload, include_root=True)
            target.tag = other.tag
            return f"rename {local} -> {etree.QName(other).localname}"
        elif how == "namespace":
            namespace = rng.choice(NAMESPACES)
            target.tag = f"{{{namespace}}}{local}" if namespace else local
            return f"namespace of {local} -> {namespace!r}"
        elif how == "unknown child":
            target.append(etree.Element(rng.choice([q(EI, "unknown"), "plain", q(WSA, "Action")])))
        elif how == "empty":
            target[:] = []
            target.text = None
        else:
            target.text = self.text(self.boundary(local))
        return f"{how} {local}"

    def ids_swap(self, payload, token, headers) -> str:
        """An ID replaced by a real one of another object, party or request, or repeated."""
        rng = self.rng
        targets = [e for e in payload.iter(etree.Element) if etree.QName(e).localname in ID_TAGS]
        if not targets:
            return self.value(payload, token, headers)
        target = rng.choice(targets)
        local = etree.QName(target).localname
        if rng.random() < 0.25:
            target.addnext(copy.deepcopy(target))
            return f"duplicate {local} {_short(target.text or '')}"
        pool = {
            "requestID": [self.ids.request_ids(rng)],
            "tenderID": self.ids.tenders,
            "transactionID": self.ids.transactions,
            "optionTransactionID": self.ids.transactions,
            "quoteID": self.ids.quotes,
            "registrationID": self.ids.registrations,
        }.get(local) or self.ids.parties
        every = self.ids.tenders + self.ids.transactions + self.ids.quotes + self.ids.registrations + self.ids.parties
        value = rng.choice(list(pool) + [rng.choice(every)])
        target.text = value
        return f"{local} := real {_short(value)}"

    def attribute(self, payload, token, headers) -> str:
        rng = self.rng
        target = self.pick(payload, include_root=True)
        name, value = rng.choice([
            (q(XSI, "nil"), "true"), (q(XSI, "type"), "xs:string"), (q(XSI, "type"), "nope:Thing"),
            ("id", "x1"), (q(SOAP11_ENV, "mustUnderstand"), "1"), ("{http://www.w3.org/XML/1998/namespace}lang", "en"),
            (q(EI, "unknown"), "Ü" * 100),
        ])
        target.set(name, value)
        return f"attribute {etree.QName(name).localname}={value[:10]!r} on {etree.QName(target).localname}"

    def repeat(self, payload, token, headers) -> str:
        """An element repeated many times (item limits, cost per request)."""
        target = self.pick(payload)
        times = self.rng.choice([50, 300, 1_200])
        for _ in range(times):
            target.addnext(copy.deepcopy(target))
        return f"repeat {etree.QName(target).localname} x{times}"

    def header(self, payload, token, headers) -> str:
        rng = self.rng
        parts = {etree.QName(e).localname: e for e in token}
        for name in ("Username", "Password"):  # an earlier mutation may have dropped them
            if name not in parts:
                parts[name] = etree.SubElement(token, q(WSSE, name))
        how = rng.choice([
            "no token", "no username", "empty username", "unknown username", "other party", "wrong password",
            "huge password", "password type", "created", "nonce", "no nonce", "two tokens", "two security",
            "mustUnderstand security", "mustUnderstand unknown", "scope", "scope twice", "scope mustUnderstand",
            "header text", "username value", "signed odd created", "signed odd nonce", "signed replayed nonce",
        ])
        if how == "no token":
            return self._no_token(token)
        if how.startswith("signed"):  # odd but correctly signed: past the digest check
            return self._signed(token, how)
        if how == "no username":
            token.remove(parts["Username"])
        elif how == "empty username":
            parts["Username"].text = rng.choice(["", "   "])
        elif how == "unknown username":
            parts["Username"].text = "nobody-" + rng.choice(["x", "Ü", "x" * 10_000])
        elif how == "other party":
            parts["Username"].text = rng.choice(self.ids.parties)
        elif how == "wrong password":
            parts["Password"].text = rng.choice(["", "wrong", (parts["Password"].text or "") + "x"])
        elif how == "huge password":
            parts["Password"].text = "p" * rng.choice(HUGE)
        elif how == "password type":
            parts["Password"].set("Type", rng.choice(["", "urn:bogus", WSSE_PASSWORD_DIGEST, "PasswordText"]))
        elif how == "created":
            created = parts.get("Created")
            if created is None:
                created = etree.SubElement(token, q(WSU, "Created"))
                parts["Password"].set("Type", WSSE_PASSWORD_DIGEST)
            created.text = self.text(rng.choice(DATES + WORDS[:4] + ["x" * 10_000]))
        elif how == "nonce":
            nonce = parts.get("Nonce")
            if nonce is None:
                nonce = etree.SubElement(token, q(WSSE, "Nonce"))
                parts["Password"].set("Type", WSSE_PASSWORD_DIGEST)
            nonce.text = rng.choice(["", "!!notbase64", "QUJD", "A" * 100_000, "=" * 8, "Ü"])
        elif how == "no nonce":
            for name in ("Nonce", "Created"):
                if name in parts:
                    token.remove(parts[name])
            parts["Password"].set("Type", WSSE_PASSWORD_DIGEST)
        elif how == "two tokens":
            return self._on_security(lambda s: s.append(copy.deepcopy(s[0])), how)
        elif how == "two security":
            return self._on_security(lambda s: s.addnext(copy.deepcopy(s)), how)
        elif how == "mustUnderstand security":
            return self._on_security(lambda s: s.set(q(SOAP11_ENV, "mustUnderstand"), rng.choice(["1", "true", "0", "yes", ""])), how)
        elif how == "mustUnderstand unknown":
            headers.append(msg.wsa_action(mustUnderstand=rng.choice(["1", "true", "0"])))
        elif how.startswith("scope"):
            scope = msg.distribution_scope(
                groups=rng.choice([(), ("north",), ("",), ("x" * 10_000,), ("a",) * 500, ("Ü \u200b",)]),
                areas=rng.choice([(), ("ZONE-7",), (" ",), ("a" * 100_000,)]),
            )
            if how == "scope mustUnderstand":
                scope.set(q(SOAP11_ENV, "mustUnderstand"), "1")
            headers.append(scope)
            if how == "scope twice":
                headers.append(copy.deepcopy(scope))
        elif how == "header text":
            return self._on_security(lambda s: setattr(s, "text", "stray text"), how)
        else:
            parts["Username"].text = self.text(self.boundary("partyID"))
        return f"header: {how}"

    def _signed(self, token, how: str) -> str:
        rng = self.rng
        user, password = token.findtext(q(WSSE, "Username")), token.findtext(q(WSSE, "Password"))
        password = password if token.find(q(WSSE, "Password")).get("Type") != WSSE_PASSWORD_DIGEST else self.password
        now = datetime.now(UTC)
        created, nonce = now.strftime("%Y-%m-%dT%H:%M:%SZ"), rng.randbytes(16)
        if how == "signed odd created":
            created = rng.choice([
                now.astimezone(timezone(timedelta(hours=14))).isoformat(), now.isoformat(timespec="microseconds"),
                now.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"), now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y-%m-%d %H:%M:%SZ"),
                now.strftime(" %Y-%m-%dT%H:%M:%SZ\n"), now.strftime("%Y-%m-%dT%H:%M:%S"), now.strftime("%G-W%V-%uT%H:%M:%SZ"),
                (now - timedelta(seconds=299)).strftime("%Y-%m-%dT%H:%M:%SZ"), (now + timedelta(seconds=400)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ])
        elif how == "signed odd nonce":
            nonce = rng.randbytes(rng.choice([0, 1, 15, 17, 64, 95, 96, 200]))
        else:
            nonce = b"fuzz-replayed-nonce"  # the same for every request: all but the first are replays
        replacement = msg.username_token(user, password, digest=True, nonce=nonce, created=created)
        token[:] = list(replacement)
        return f"header: {how} (created {created!r}, nonce of {len(nonce)} bytes)"

    def _no_token(self, token) -> Callable:
        def no_token(envelope):
            """header: no token"""
            header = envelope.find(q(SOAP11_ENV, "Header"))
            if header is not None:
                envelope.remove(header)
            return envelope
        return no_token

    def _on_security(self, change, how: str) -> Callable:
        def on_security(envelope):
            security = envelope.find(f"{q(SOAP11_ENV, 'Header')}/{q(WSSE, 'Security')}")
            if security is not None:  # (another change of the same request may have removed it)
                change(security)
            return envelope
        on_security.__doc__ = f"header: {how}"
        return on_security

    def envelope(self, payload, token, headers) -> Callable:
        rng = self.rng
        how = rng.choice([
            "soap12", "no body", "empty body", "two payloads", "body text", "header after body", "two headers",
            "envelope renamed", "no namespace", "encoding latin-1", "utf-16", "bom", "leading junk", "trailing junk",
            "comment and pi", "cdata", "deep nesting", "content type", "two bodies", "doctype unseen",
        ])

        def change(envelope):
            body = envelope.find(q(SOAP11_ENV, "Body"))
            header = envelope.find(q(SOAP11_ENV, "Header"))
            if (body is None or len(body) == 0) and how in ("no body", "empty body", "two payloads", "body text", "two bodies"):
                return envelope  # another change of the same request took the body away
            if header is None and how in ("header after body", "two headers"):
                return envelope
            if how == "soap12":
                envelope.tag = q(SOAP12_ENV, "Envelope")
            elif how == "no body":
                envelope.remove(body)
            elif how == "empty body":
                body[:] = []
            elif how == "two payloads":
                body.append(copy.deepcopy(body[0]))
            elif how == "body text":
                body.text = "text before the payload"
            elif how == "header after body":
                envelope.remove(header)
                envelope.append(header)
            elif how == "two headers":
                envelope.insert(0, copy.deepcopy(header))
            elif how == "two bodies":
                envelope.append(copy.deepcopy(body))
            elif how == "envelope renamed":
                envelope.tag = q(SOAP11_ENV, "Envelop")
            elif how == "no namespace":
                envelope.tag = "Envelope"
            else:
                return self._serialised(envelope, how)
            return envelope

        change.__doc__ = f"envelope: {how}"
        return change

    def _serialised(self, envelope, how) -> bytes:
        rng = self.rng
        if how == "encoding latin-1":
            data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
            return data.replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1) + b"<!-- \xe9 -->"
        if how == "utf-16":
            return etree.tostring(envelope, xml_declaration=True, encoding="UTF-16")
        if how == "doctype unseen":  # a DOCTYPE that a byte check for b"<!DOCTYPE" does not see
            text = etree.tostring(envelope, encoding="unicode")
            dtd = rng.choice(["/etc/hostname", "/nonexistent.dtd", "file:///etc/passwd", "http://127.0.0.1:9/x.dtd"])
            encoding = rng.choice(["UTF-16", "UTF-32", "UTF-16BE"])
            return f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE x SYSTEM "{dtd}">{text}'.encode(encoding.replace("BE", "-BE"))
        data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
        if how == "bom":
            return b"\xef\xbb\xbf" + data
        if how == "leading junk":
            return rng.choice([b" \n", b"junk", b"\x00"]) + data
        if how == "trailing junk":
            return data + rng.choice([b"<x/>", b"junk", b"\x00", b"<!-- c -->", b"\n\n"])
        if how == "comment and pi":
            return data.replace(b"?>", b"?><!-- c --><?pi x?>", 1).replace(b"</soap:Body>", b"<!-- c --><?pi y?></soap:Body>")
        if how == "cdata":
            return data.replace(b"<pyld:requestID>", b"<pyld:requestID><![CDATA[", 1).replace(b"</pyld:requestID>", b"]]></pyld:requestID>", 1)
        if how == "deep nesting":
            depth = rng.choice([40, 70, 300])
            return data.replace(b"</soap:Body>", b"<a>" * depth + b"</a>" * depth + b"</soap:Body>", 1)
        self.http_content_type = rng.choice(["application/soap+xml", "text/plain", "", "text/xml; charset=latin-1", "multipart/related; boundary=x"])
        return data

    def bytes_(self, data: bytes) -> tuple[bytes, str]:
        rng = self.rng
        how = rng.choice(["truncate", "flip", "delete span", "duplicate span"])
        at = rng.randrange(len(data))
        if how == "truncate":
            return data[:at], f"truncated at {at}/{len(data)}"
        if how == "flip":
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            return bytes(flipped), "bytes flipped"
        end = min(len(data), at + rng.randint(1, 200))
        if how == "delete span":
            return data[:at] + data[end:], f"deleted bytes {at}-{end}"
        return data[:end] + data[at:end] + data[end:], f"duplicated bytes {at}-{end}"
