"""The audit trail's two designs, in-process, in one run: what each adds to EiCreateTender and
EiCreateTransaction.

- ``none``: no audit row (``uow.audit.record`` does nothing);
- ``explicit`` (the design built): handlers record events, the unit of work sends them as one
  multi-row INSERT queued with the request's COMMIT;
- ``triggers``: statement-level triggers on ``tender`` (INSERT, UPDATE) and ``transaction``
  (INSERT) write the rows from the transition tables, reading the actor, requestID and time
  from transaction-local settings that the unit of work sets (one ``set_config`` queued with
  the request's writes).

Rounds interleave the variants (the machine's speed moves between minutes); each round makes
``--requests`` tenders and then accepts them, per variant. Reported per request: wall time,
CPU in this process and in PostgreSQL (as bench/inproc.py measures them).

    python bench/audit_designs.py [--requests 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from common import CTX, fill, password_of, run_start, tpl_create_tender, tpl_create_transaction  # noqa: E402
from inproc import postgres_cpu, prepare_service, wsgi_post  # noqa: E402

# --- design (b): triggers reading transaction-local settings ---------------------------------
_SETTINGS = (
    "current_setting('temix.at')::timestamptz, current_setting('temix.actor'),"
    " nullif(current_setting('temix.request_id'), '')"
)
_INSERT = "INSERT INTO audit_event (at, actor, request_id, kind, party_id, counterparty_id, tender_id, transaction_id, details)"
_TERMS = (
    "'side', n.side, 'market_context', n.market_context, 'delivery_node', n.delivery_node, 'receipt_node', n.receipt_node,"
    " 'start', n.start_at, 'end', n.end_at, 'price_per_kwh', n.price_per_kwh::text, 'quantity_kw', n.quantity_kw::text,"
    " 'currency', n.currency"
)
TRIGGERS = f"""
CREATE FUNCTION bench_audit_tender_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT} SELECT {_SETTINGS},
        CASE WHEN n.distribution_pk IS NULL THEN 'tender.created' ELSE 'tender.distributed' END,
        n.party_id, n.counterparty_id, n.tender_id, NULL,
        jsonb_strip_nulls(jsonb_build_object({_TERMS}, 'expires_at', n.expires_at))
    FROM new_rows n;
    RETURN NULL;
END $$;
CREATE FUNCTION bench_audit_tender_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT} SELECT {_SETTINGS}, 'tender.cancelled', n.party_id, n.counterparty_id, n.tender_id, NULL,
        jsonb_build_object('remaining_kw', n.remaining_kw::text)
    FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.cancelled_at IS NULL AND n.cancelled_at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE FUNCTION bench_audit_transaction_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT} SELECT {_SETTINGS}, e.kind, e.party_id, e.counterparty_id, e.tender_id, e.transaction_id, e.details
    FROM new_rows n JOIN tender t ON t.id = n.tender_pk,
    LATERAL (VALUES
        ('transaction.created', n.party_id, n.counterparty_id, t.tender_id, n.transaction_id,
         jsonb_strip_nulls(jsonb_build_object({_TERMS}))),
        ('tender.filled', n.counterparty_id, n.party_id, t.tender_id, n.transaction_id,
         jsonb_build_object('rate_kw', n.quantity_kw::text, 'price_per_kwh', n.price_per_kwh::text,
                            'remaining_kw', t.remaining_kw::text))
    ) AS e(kind, party_id, counterparty_id, tender_id, transaction_id, details);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_audit_tender_insert AFTER INSERT ON tender REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_audit_tender_insert();
CREATE TRIGGER bench_audit_tender_update AFTER UPDATE ON tender REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_audit_tender_update();
CREATE TRIGGER bench_audit_transaction_insert AFTER INSERT ON transaction REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench_audit_transaction_insert();
"""
_TRIGGER_NAMES = (("tender", "bench_audit_tender_insert"), ("tender", "bench_audit_tender_update"),
                  ("transaction", "bench_audit_transaction_insert"))
_SET_ACTOR = (
    "SELECT set_config('temix.actor', %s, true), set_config('temix.request_id', %s, true),"
    " set_config('temix.at', %s, true)"
)


def prepare(data_dir: Path):
    from service.app import create_app

    settings, engine = prepare_service(data_dir)
    with engine.begin() as conn:
        conn.exec_driver_sql(TRIGGERS)
    return engine, create_app(settings)


def use(variant: str, engine) -> None:
    """Switch the audit design: the triggers on or off, the explicit records on or off."""
    from service.store import audit

    with engine.begin() as conn:
        for table, name in _TRIGGER_NAMES:
            conn.exec_driver_sql(f"ALTER TABLE {table} {'ENABLE' if variant == 'triggers' else 'DISABLE'} TRIGGER {name}")
    trail = audit.AuditTrail
    trail.record = ORIGINAL_RECORD if variant == "explicit" else (lambda self, kind, subject, details=None: None)
    trail.act_as = ORIGINAL_ACT_AS if variant != "triggers" else _act_as_setting


def _act_as_setting(self, actor, request_id, at) -> None:
    ORIGINAL_ACT_AS(self, actor, request_id, at)
    self._uow.queue(self._uow.sql("bench_set_actor", _SET_ACTOR, (actor, request_id or "", at.isoformat())))


def main(argv=None) -> int:
    global ORIGINAL_RECORD, ORIGINAL_ACT_AS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from service.store import audit
    from service.store.embedded import stop_embedded

    ORIGINAL_RECORD, ORIGINAL_ACT_AS = audit.AuditTrail.record, audit.AuditTrail.act_as
    variants = ("none", "explicit", "triggers")
    data_dir = Path(tempfile.mkdtemp(prefix="temix-audit-bench-"))
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    try:
        engine, app = prepare(data_dir)
        create = tpl_create_tender("bench-0", "bench-1", "N0")
        accept = tpl_create_transaction("bench-1", "bench-0", "N0")
        n = args.requests
        for round_ in range(args.rounds + 1):  # round 0 warms up (caches, prepared statements)
            order = variants[round_ % 3:] + variants[: round_ % 3]
            for variant in order:
                use(variant, engine)
                tag = f"{variant[0]}{round_}"
                phases = {
                    "EiCreateTender": lambda k: wsgi_post(app, "/EiTender", fill(
                        create, rid=f"c{tag}-{k}", tid=f"t{tag}-{k}", start=run_start(k))),
                    "EiCreateTransaction": lambda k: wsgi_post(app, "/EiTransaction", fill(
                        accept, rid=f"a{tag}-{k}", xid=f"x{tag}-{k}", tid=f"t{tag}-{k}", qty="4", start=run_start(k))),
                }
                for name, call in phases.items():
                    count = 30 if round_ == 0 else n
                    postgres = postgres_cpu(data_dir)
                    started, cpu = time.perf_counter(), time.process_time()
                    for k in range(count):
                        call(k)
                    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                    postgres = postgres_cpu(data_dir) - postgres
                    if round_:
                        figures.setdefault((name, variant), []).append(
                            (elapsed / count * 1e6, cpu / count * 1e6, postgres / count * 1e6))
        with engine.connect() as conn:
            by_variant = conn.exec_driver_sql(
                "SELECT substr(request_id, 2, 1), kind, count(*) FROM audit_event GROUP BY 1, 2 ORDER BY 1, 2"
            ).all()
        engine.dispose()
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{args.rounds} rounds x {args.requests} requests per variant and operation; medians of the rounds, us per request")
    print("| operation | audit | wall | CPU here | CPU PostgreSQL | CPU total | vs none | CPU added, paired by round: median (min..max) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("EiCreateTender", "EiCreateTransaction"):
        base = None
        totals = {v: [here + pg for _, here, pg in figures[(name, v)]] for v in variants}
        for variant in variants:
            wall, here, pg = (statistics.median(column) for column in zip(*figures[(name, variant)]))
            base = base or here + pg
            added = [t - b for t, b in zip(totals[variant], totals["none"])]
            paired = f"{statistics.median(added):+.0f} ({min(added):+.0f}..{max(added):+.0f})" if variant != "none" else "-"
            print(f"| {name} | {variant} | {wall:.0f} | {here:.0f} | {pg:.0f} | {here + pg:.0f} | {(here + pg) / base:.3f} x | {paired} |")
    print("audit rows written, by variant (first letter) and kind:", by_variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
