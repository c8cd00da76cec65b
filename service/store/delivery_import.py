"""A CSV file of meter readings into meter_reading, in one transaction (``temix delivery import``).

The file's checked rows are staged in a temporary table (COPY, a chunk at a time: the
command holds one chunk in memory whatever the file's length), the rules that need the
database (registered parties, no key twice) are checked there, and then the whole staging
table is merged in one statement (``deliveries.merge_sql``): corrections keep their history,
identical readings change nothing. Any rejected row and nothing is merged: the transaction
rolls back with its staging table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from service.domain.deliveries import MeterReading, RecordCounts
from service.store.deliveries import READING, counts, merge_sql

STAGING = "meter_reading_import"
_KEY = "party_id, market_context, interface, interval_start, injection"


@dataclass(frozen=True)
class Rejected:
    """A row refused: its line in the file (the header is line 1) and why."""

    line: int
    reason: str


class Staging:
    """The temporary table of one import, on the command's connection and transaction."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._cursor = conn.connection.dbapi_connection.cursor()
        self.rows = 0
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {STAGING} (line bigint NOT NULL, party_id text NOT NULL,"
            " market_context text NOT NULL, interface text NOT NULL, interval_start timestamptz NOT NULL,"
            " interval_end timestamptz NOT NULL, injection boolean NOT NULL, energy_kwh numeric NOT NULL)"
            " ON COMMIT DROP"
        )

    def copy(self, chunk: Iterable[tuple[int, MeterReading]]) -> None:
        """COPY one chunk of (line, checked reading) into the staging table."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for line, r in chunk:
            writer.writerow((line, r.party_id, r.market_context, r.interface, r.start.isoformat(),
                             r.end.isoformat(), "t" if r.injection else "f", format(r.energy_kwh, "f")))
            self.rows += 1
        buffer.seek(0)
        self._cursor.copy_expert(f"COPY {STAGING} FROM STDIN WITH (FORMAT csv)", buffer)

    def rejected(self, limit: int) -> tuple[list[Rejected], int]:
        """Rows the database's rules refuse (the first ``limit``, by line) and how many in all:
        an unregistered party, and every row after the first of a key given twice."""
        self._conn.exec_driver_sql(f"ANALYZE {STAGING}")
        query = (
            f"WITH unknown AS (SELECT s.line, 'party ' || quote_literal(s.party_id) || ' is not registered' AS reason"
            f" FROM {STAGING} s WHERE NOT EXISTS (SELECT 1 FROM party p WHERE p.party_id = s.party_id)),"
            f" repeated AS (SELECT line, 'repeats the reading of line ' || first_line AS reason FROM ("
            f"SELECT line, min(line) OVER (PARTITION BY {_KEY}) AS first_line FROM {STAGING}) k"
            " WHERE line <> first_line),"
            " refused AS (SELECT * FROM unknown UNION ALL SELECT * FROM repeated)"
            " SELECT line, reason, count(*) OVER () FROM refused ORDER BY line LIMIT %(limit)s"
        )
        rows = self._conn.exec_driver_sql(query, {"limit": limit}).all()
        return [Rejected(line, reason) for line, reason, _ in rows], (rows[0][2] if rows else 0)

    def merge(self, source: str) -> RecordCounts:
        """Record every staged reading, reported by 'operator' from ``source`` (the file)."""
        incoming = (
            f"SELECT {READING}, 'operator'::text AS reported_by, now() AS reported_at,"
            f" %(source)s::text AS source FROM {STAGING}"
        )
        row = self._conn.exec_driver_sql(merge_sql(incoming), {"source": source}).one()
        return counts(self.rows, row)
