"""Which request wrote what: rows written since a mark, traced to the request that wrote them.

Every row version in PostgreSQL carries the ID of the transaction that wrote it (``xmin``);
an update writes a new version, so it carries the updater's. A state-changing request writes
its rows and logs its answer in the request log in one transaction, so a row written since
the mark belongs to the request whose request-log row has the same ``xmin``; that request
must have been accepted (responseCode 200) and answered so. A write in a transaction that
logged no answer (a read that wrote, or a refusal that kept its writes), a logged refusal that
wrote rows, a logged read, or a logged answer the client never got, is reported.

Deleted rows carry no ``xmin`` to trace. The one deletion in the request path is
EiCancelPartyRegistration's: it takes out the memberships (market contexts, groups, service
areas, roles) its registration added. So a membership gone since the mark must be one that a
registration cancelled since the mark added (the cancellation's update of that registration is
a write, traced as above); any other table with fewer rows is reported.

Not audited: ``used_nonce`` (authentication remembers a digest's nonce even when the request
is then refused: that is the replay guard).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from sqlalchemy import text

from service.soap.ns import EI, q
from service.store.tables import metadata

# every table of the service but the request log and the nonces
BUSINESS_TABLES = tuple(table.name for table in metadata.sorted_tables if table.name not in ("request_log", "used_nonce"))
# a registration_membership's kind -> the membership table and its name column
MEMBERSHIPS = {
    "market_context": ("party_market_context", "market_context"),
    "group": ("party_group", "group_name"),
    "service_area": ("party_service_area", "service_area"),
    "role": ("party_role", "role"),
}
_MEMBERS = " UNION ALL ".join(f"SELECT '{kind}', party_id, {column} FROM {table}" for kind, (table, column) in MEMBERSHIPS.items())
_CANCELLED_SINCE = (
    "SELECT m.kind, r.party_id, m.name FROM registration r JOIN registration_membership m USING (registration_id)"
    " WHERE r.cancelled_at IS NOT NULL AND r.xmin::text::bigint >= :x"
)
_BY_REQUEST = {table.name for table in metadata.sorted_tables if "request_id" in table.c}
_NEXT_XID = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
_COUNTS = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{table}")' for table in BUSINESS_TABLES)


@dataclass(frozen=True)
class Mark:
    next_xid: int
    counts: tuple[int, ...]
    memberships: frozenset[tuple[str, str, str]]  # (kind, party, name)


@dataclass(frozen=True)
class Logged:
    """A request-log row written since the mark."""

    xid: int
    party_id: str
    request_id: str
    operation: str
    response_code: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.party_id, self.request_id


def mark(conn) -> Mark:
    return Mark(
        conn.execute(text(_NEXT_XID)).scalar_one(), tuple(conn.execute(text(_COUNTS)).one()), _memberships(conn)
    )


def _memberships(conn) -> frozenset[tuple[str, str, str]]:
    return frozenset(tuple(row) for row in conn.execute(text(_MEMBERS)))


def writes_since(conn, since: Mark) -> tuple[dict[int, set[str]], list[Logged], list[str]]:
    """(xid -> what it wrote: business tables, with the requestIDs of rows that carry one;
    request-log rows; shrunken tables) since the mark."""
    written: dict[int, set[str]] = {}
    for table in BUSINESS_TABLES:
        request_id = "request_id" if table in _BY_REQUEST else "NULL"
        rows = conn.execute(
            text(f'SELECT DISTINCT xmin::text::bigint, {request_id} FROM "{table}" WHERE xmin::text::bigint >= :x'),
            {"x": since.next_xid},
        )
        for xid, by_request in rows:
            written.setdefault(xid, set()).add(table if by_request is None else f"{table} (requestID {by_request[:60]!r})")
    logged = [
        Logged(row.xid, row.party_id, row.request_id, row.operation, _code_of(row.response))
        for row in conn.execute(
            text(
                "SELECT xmin::text::bigint AS xid, party_id, request_id, operation, response FROM request_log"
                " WHERE xmin::text::bigint >= :x"
            ),
            {"x": since.next_xid},
        )
    ]
    counts = tuple(conn.execute(text(_COUNTS)).one())
    membership_tables = {table for table, _ in MEMBERSHIPS.values()}
    shrunk = [
        f"{t}: {a} -> {b} rows"
        for t, a, b in zip(BUSINESS_TABLES, since.counts, counts)
        if b < a and t not in membership_tables
    ]
    gone = since.memberships - _memberships(conn)
    cancelled = {tuple(row) for row in conn.execute(text(_CANCELLED_SINCE), {"x": since.next_xid})}
    shrunk += [f"{kind} {name!r} of {party} taken out, by no registration cancelled" for kind, party, name in sorted(gone - cancelled)]
    return written, logged, shrunk


def unexplained(
    written: dict[int, set[str]], logged: list[Logged], answers: dict[tuple[str, str], list[str]], reads: tuple[str, ...]
) -> list[tuple[str, tuple[str, str] | None]]:
    """What the writes since a mark do not account for, each with the (party, requestID) it
    concerns if known. ``answers``: per (party, requestID), what the client was answered
    ('code 200', 'fault ...'); ``reads``: the operations that must never be logged."""
    problems: list[tuple[str, tuple[str, str] | None]] = []
    logged_by_xid = {row.xid: row for row in logged}
    for xid, tables in sorted(written.items()):
        row = logged_by_xid.get(xid)
        if row is None:
            problems.append((f"written by a transaction that logged no answer: {sorted(tables)}", None))
        elif row.response_code != "200":
            problems.append((f"a refused request ({row.response_code}) wrote {sorted(tables)}", row.key))
    for row in logged:
        if row.operation in reads:
            problems.append((f"a {row.operation} was logged in the request log ({row.response_code})", row.key))
        got = answers.get(row.key, [])
        if got and f"code {row.response_code}" not in got:
            problems.append((f"logged answer {row.response_code} but the client got {got}", row.key))
    return problems


def _code_of(response: bytes | None) -> str | None:
    if response is None:
        return None
    return etree.fromstring(bytes(response)).findtext(f".//{q(EI, 'responseCode')}")
