"""Meter readings in PostgreSQL (``uow.deliveries``), and the merge every way in shares.

Recording is one statement (``merge_sql``): the readings, whatever their source (arrays sent
with a report, or the staging table of a CSV import), are upserted on their key; a reading
whose value differs from the stored one replaces it and the old value goes to
meter_reading_history, with who reported the new one, when and from where; an identical
reading changes nothing (not even reported_at). The old values are read in the same
statement, from its snapshot, so no extra round trip and no window between read and write.
Rows are written (and locked) in key order, whatever order they came in: two reports of the
same keys at once queue instead of deadlocking. A row another transaction committed while this
one waited on its key is updated but was not in the snapshot: its old value is unknown (the
merge's third count), so a report rolls back to before its merge and merges again, in a new
snapshot that sees it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from service.domain.deliveries import MeterReading, RecordCounts

KEY = "party_id, market_context, interface, interval_start, injection"
READING = "party_id, market_context, interface, interval_start, interval_end, injection, energy_kwh"

_W_KEY = ", ".join(f"w.{column}" for column in KEY.split(", "))
# {incoming}: a SELECT of READING and reported_by, reported_at, source; no key twice.
_MERGE = f"""
WITH incoming AS ({{incoming}}),
old AS (
  SELECT {KEY}, m.energy_kwh FROM meter_reading m JOIN incoming i USING ({KEY})
),
written AS (
  INSERT INTO meter_reading AS m ({READING}, reported_by, reported_at, source)
  SELECT {READING}, reported_by, reported_at, source FROM incoming ORDER BY {KEY}
  ON CONFLICT ({KEY}) DO UPDATE SET
    interval_end = excluded.interval_end, energy_kwh = excluded.energy_kwh,
    reported_by = excluded.reported_by, reported_at = excluded.reported_at, source = excluded.source
  WHERE m.energy_kwh <> excluded.energy_kwh OR m.interval_end <> excluded.interval_end
  RETURNING {KEY}, m.energy_kwh, m.reported_by, m.reported_at, m.source, (m.xmax = 0) AS inserted
),
history AS (
  INSERT INTO meter_reading_history ({KEY}, old_kwh, new_kwh, reported_by, reported_at, source)
  SELECT {KEY}, o.energy_kwh, w.energy_kwh, w.reported_by, w.reported_at, w.source
  FROM written w JOIN old o USING ({KEY}) WHERE NOT w.inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
  (SELECT count(*) FROM written w WHERE NOT w.inserted AND NOT EXISTS (SELECT 1 FROM old o WHERE ({KEY}) = ({_W_KEY})))
FROM written
"""

_ARRAYS = (
    "SELECT r.*, %s::text AS reported_by, %s::timestamptz AS reported_at, %s::text AS source"
    " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::boolean[],"
    f" %s::numeric[]) AS r({READING})"
)

_MERGE_ARRAYS = _MERGE.format(incoming=_ARRAYS)

_UNREGISTERED = (
    "SELECT asked FROM unnest(%s::text[]) AS asked WHERE NOT EXISTS (SELECT 1 FROM party WHERE party_id = asked)"
)

_FOR_PARTY = (
    f"SELECT {READING} FROM meter_reading WHERE party_id = %s AND market_context = %s"
    " AND (%s::text IS NULL OR interface = %s) AND interval_start >= %s AND interval_start < %s"
    " ORDER BY interval_start, interface, injection"
)

_NET = (
    "SELECT party_id, interface, interval_start, interval_end,"
    " sum(CASE WHEN injection THEN energy_kwh ELSE -energy_kwh END)"
    " FROM meter_reading WHERE market_context = %s AND interval_start >= %s AND interval_start < %s"
    " GROUP BY party_id, interface, interval_start, interval_end"
    " ORDER BY interval_start, party_id, interface"
)


def merge_sql(incoming: str) -> str:
    """The merge of the readings ``incoming`` selects; its one row is (new, corrected)."""
    return _MERGE.format(incoming=incoming)


def counts(total: int, row: Sequence[int]) -> RecordCounts:
    new, corrected, _unseen = row
    return RecordCounts(new=new, corrected=corrected, unchanged=total - new - corrected)


def reading(row: Sequence) -> MeterReading:
    return MeterReading(*row)


class DeliveryRepository:
    """``uow.deliveries``: meter readings inside the request's transaction."""

    def __init__(self, uow):
        self._uow = uow

    def record(
        self, readings: Sequence[MeterReading], reported_by: str, reported_at: datetime, source: str
    ) -> RecordCounts:
        """Record checked readings (``domain.deliveries.check_reading``), no key twice."""
        if not readings:
            return RecordCounts()
        columns = (
            [r.party_id for r in readings], [r.market_context for r in readings], [r.interface for r in readings],
            [r.start for r in readings], [r.end for r in readings], [r.injection for r in readings],
            [r.energy_kwh for r in readings],
        )
        params = (reported_by, reported_at, source, *columns)
        row = self._uow.fetch(b"SAVEPOINT temix_meter_record;\n" + self._uow.sql("temix_meter_record", _MERGE_ARRAYS, params))[0]
        while row[2]:  # corrections whose old value the snapshot missed: again, in a new one
            row = self._uow.fetch(
                b"ROLLBACK TO SAVEPOINT temix_meter_record;\n" + self._uow.sql("temix_meter_record", _MERGE_ARRAYS, params)
            )[0]
        return counts(len(readings), row)

    def unregistered(self, party_ids: Sequence[str]) -> list[str]:
        """Those of ``party_ids`` that are not registered parties, in one round trip."""
        rows = self._uow.fetch(self._uow.sql("temix_meter_unregistered", _UNREGISTERED, (list(party_ids),)))
        return sorted(row[0] for row in rows)

    def for_party(
        self, party_id: str, market_context: str, interface: str | None, start: datetime, end: datetime
    ) -> list[MeterReading]:
        """The party's readings in the market context whose interval starts in [start, end),
        at one interface or all, by interval."""
        params = (party_id, market_context, interface, interface, start, end)
        return [reading(row) for row in self._uow.fetch(self._uow.sql("temix_meter_for_party", _FOR_PARTY, params))]

    def net_delivered(
        self, market_context: str, start: datetime, end: datetime
    ) -> Iterable[tuple[str, str, datetime, datetime, object]]:
        """(party_id, interface, start, end, net kWh) per party, interface and interval starting
        in [start, end): injection less withdrawal."""
        return self._uow.fetch(self._uow.sql("temix_meter_net", _NET, (market_context, start, end)))
