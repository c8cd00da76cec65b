"""The baseline: what any SOAP service doing this job must do, and nothing else.

Served by ``temix serve --app baseline.app:create_app`` (so under exactly the service's
gunicorn settings: deploy/gunicorn.conf.py, 2 sync workers, access log, the same
database) with ``bench/`` on PYTHONPATH. Per request it
1. reads the body and parses it with lxml, with the service's hardened parser settings
   (no DTD, no entities, no network, no huge trees, comments and PIs dropped);
2. validates the Body's payload with the same compiled schema set
   (``service.soap.schema.SchemaSet(...).errors(payload)``);
3. inserts one row (requestID and the request bytes) in one committed PostgreSQL
   transaction (psycopg2, synchronous_commit on, the server's default);
4. answers a fixed SOAP envelope carrying responseCode 200.
No spyne, no SQLAlchemy, no authentication, no response validation.
"""

from __future__ import annotations

import psycopg2
from lxml import etree
from sqlalchemy.engine import make_url

from service.soap.ns import PYLD, SOAP11_ENV, q
from service.soap.schema import SchemaSet

TABLE_DDL = """CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    request_id text NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())"""

REPLY = (
    b"<?xml version='1.0' encoding='UTF-8'?>"
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soap:Body><ok><responseCode>200</responseCode></ok></soap:Body></soap:Envelope>"
)
BODY = q(SOAP11_ENV, "Body")
REQUEST_ID = q(PYLD, "requestID")


def connect(url: str):
    """A psycopg2 connection from the SQLAlchemy URL `temix serve` hands its workers."""
    parsed = make_url(url)
    return psycopg2.connect(
        dbname=parsed.database,
        user=parsed.username,
        password=parsed.password,
        host=parsed.query.get("host") or parsed.host,
        port=parsed.query.get("port") or parsed.port,
        application_name="temix-baseline",
    )


def create_app(settings):
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )
    schemas = SchemaSet(settings.schema_dir, settings.schema_entry)
    conn = connect(settings.database_url)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/health":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
            return [b"ok\n"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            payload = etree.fromstring(body, parser).find(BODY)[0]
            errors = schemas.errors(payload)
        except (etree.XMLSyntaxError, TypeError, IndexError) as error:
            errors = [str(error)]
        if errors:
            message = ("; ".join(errors)).encode()[:2000]
            start_response("500 Internal Server Error", [("Content-Type", "text/plain"),
                                                          ("Content-Length", str(len(message)))])
            return [message]
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO bench_baseline (request_id, body) VALUES (%s, %s)",
                           (payload.findtext(REQUEST_ID), body))
        conn.commit()
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(REPLY)))])
        return [REPLY]

    return app
