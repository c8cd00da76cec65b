"""What-if: the service's in-process cost per request, as is and with one change at a time.

Calls the real WSGI app (service.app.create_app) in this process, one request at a time,
against a prepared database (run_all.py --keep leaves one; or any migrated database with
the bench parties), and times EiCreateTender and EiCreateTransaction. Each variant is the
unchanged service with ONE monkeypatch, to estimate what a change to service/ would gain
before anyone makes it; nothing here is shipped or changes service/ files.

    python bench/whatif.py --src /tmp/temix-src --database-url postgresql+psycopg2://...
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

BENCH = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=str(BENCH.parent))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path[:0] = [args.src, str(BENCH)]

    from lxml import etree
    from sqlalchemy.dialects.postgresql import insert

    from common import fill, run_start, tpl_create_tender, tpl_create_transaction
    from service import handlers
    from service.app import create_app
    from service.auth import wssecurity
    from service.config import Settings
    from service.soap.ns import SOAP11_ENV, q
    from service.soap.xmlparse import parse_document
    from service.store import parties, tenders
    from service.store.db import make_engine
    from service.store.tables import tender

    data_dir = Path(tempfile.mkdtemp(prefix="temix-whatif-"))
    settings = Settings.from_env(environ={}, data_dir=data_dir, database_url=args.database_url, allow_insecure_password=True)

    def cached_credentials():
        cache = {}
        original = parties.get_party_credentials

        def lookup(conn, party_id):
            if party_id not in cache:
                cache[party_id] = original(conn, party_id)
            return cache[party_id]

        return [mock.patch.object(handlers, "get_party_credentials", lookup),
                mock.patch.object(wssecurity, "get_party_credentials", lookup)]

    def executemany_insert():
        statement = insert(tender).on_conflict_do_nothing().returning(tender.c.id, sort_by_parameter_order=True)

        def insert_tenders(conn, rows):
            return [row.id for row in conn.execute(statement, rows)]

        return [mock.patch.object(tenders, "insert_tenders", insert_tenders)]

    def no_savepoint():
        return [mock.patch("service.store.uow.UnitOfWork.savepoint", lambda self: contextlib.nullcontext())]

    def executemany_positions():
        from service.domain import positions as domain
        from service.store import positions
        from service.store.tables import position_change

        statement = insert(position_change)
        statement = statement.on_conflict_do_update(
            index_elements=[c.name for c in position_change.primary_key.columns],
            set_=dict(rate_kw=position_change.c.rate_kw + statement.excluded.rate_kw,
                      value_rate=position_change.c.value_rate + statement.excluded.value_rate))

        def apply(conn, changes):
            by_key = {}
            for key, change in changes:
                by_key.setdefault(key, []).append(change)
            rows = [dict(key.__dict__, at=c.at, rate_kw=c.rate_kw, value_rate=c.value_rate)
                    for key in sorted(by_key) for c in domain.merge(by_key[key])]
            if rows:
                conn.execute(statement, rows)

        return [mock.patch.object(positions, "apply", apply)]

    variants = {
        "as is": (dict(), lambda: []),
        "no pool_pre_ping": (dict(pre_ping=False), lambda: []),
        "party credentials cached per worker": (dict(), cached_credentials),
        "tender INSERT cached (executemany form)": (dict(), executemany_insert),
        "position upsert cached (executemany form)": (dict(), executemany_positions),
        "no SAVEPOINT (cost of the savepoint pair)": (dict(), no_savepoint),
        "all five": (dict(pre_ping=False), lambda: cached_credentials() + executemany_insert()
                     + executemany_positions() + no_savepoint()),
    }

    def build(pre_ping=True):
        engine = make_engine(settings.database_url)
        if not pre_ping:
            engine.pool._pre_ping = False
        return create_app(settings, engine)

    def envelope_call(app, path, body):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "text/xml; charset=utf-8", "wsgi.input": io.BytesIO(body), "SERVER_NAME": "x",
                   "SERVER_PORT": "1", "wsgi.url_scheme": "http", "QUERY_STRING": ""}
        reply = b"".join(app(environ, lambda status, headers: None))
        if b"responseCode>200<" not in reply:
            raise RuntimeError(reply[:600])

    from service.soap.schema import SchemaSet

    schemas = SchemaSet(settings.schema_dir, settings.schema_entry)
    create = tpl_create_tender("bench-6", "bench-7", "W6")
    accept = tpl_create_transaction("bench-7", "bench-6", "W6")
    apps = {name: build(**options) for name, (options, _) in variants.items()}
    handle = _find_handle(apps["as is"])
    best = {name: {"EiCreateTender": float("inf"), "EiCreateTransaction": float("inf")} for name in variants}
    best["without spyne"] = {"EiCreateTender": float("inf")}
    n = args.requests
    for round_number in range(args.rounds):
        for name, (_, patches) in variants.items():
            tag = f"wi{int(time.time())}-{round_number}-{len(name)}{name[:3]}"
            with contextlib.ExitStack() as stack:
                for patch in patches():
                    stack.enter_context(patch)
                started = time.perf_counter()
                for k in range(n):
                    envelope_call(apps[name], "/EiTender",
                                  fill(create, rid=f"{tag}-c{k}", tid=f"{tag}-t{k}", start=run_start(k)))
                best[name]["EiCreateTender"] = min(best[name]["EiCreateTender"], (time.perf_counter() - started) / n)
                started = time.perf_counter()
                for k in range(n):
                    envelope_call(apps[name], "/EiTransaction", fill(accept, rid=f"{tag}-a{k}", xid=f"{tag}-x{k}",
                                                                     tid=f"{tag}-t{k}", qty="4", start=run_start(k)))
                best[name]["EiCreateTransaction"] = min(best[name]["EiCreateTransaction"],
                                                        (time.perf_counter() - started) / n)
        # the same EiCreateTender work without spyne: parse, validate, dispatch, serialise by hand
        tag = f"wn{int(time.time())}-{round_number}"
        started = time.perf_counter()
        for k in range(n):
            body = fill(create, rid=f"{tag}-c{k}", tid=f"{tag}-t{k}", start=run_start(k))
            root = parse_document(body)
            payload = root.find(q(SOAP11_ENV, "Body"))[0]
            schemas.check_request(payload)
            reply = handle(list(root.find(q(SOAP11_ENV, "Header"))), payload)
            envelope = etree.Element(q(SOAP11_ENV, "Envelope"), nsmap={"soap": SOAP11_ENV})
            etree.SubElement(envelope, q(SOAP11_ENV, "Body")).append(reply)
            etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
        best["without spyne"]["EiCreateTender"] = min(best["without spyne"]["EiCreateTender"],
                                                      (time.perf_counter() - started) / n)
    print(f"best of {args.rounds} interleaved rounds of {n} requests, ms per request (one client, in-process):")
    for name, figures in best.items():
        print(f"  {name}: " + ", ".join(f"{op} {value * 1000:.2f}" for op, value in figures.items()))
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _find_handle(front):
    """The dispatcher's handle() behind the spyne endpoints (closure of the spyne methods)."""
    for endpoint in front.endpoints.values():
        for service in endpoint.app.services:
            for method in service.public_methods.values():
                function = method.function
                for cell in function.__closure__ or ():
                    value = cell.cell_contents
                    if callable(value) and getattr(value, "__name__", "") == "handle":
                        return value
    raise RuntimeError("no dispatcher handle found")


if __name__ == "__main__":
    raise SystemExit(main())
