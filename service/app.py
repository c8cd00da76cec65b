"""The WSGI application, assembled from the settings: nothing happens at import time.

The front calls ``create_app(settings)`` in each worker after it starts, so every worker builds
its own engine, compiled schemas and verified-password cache.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from service.auth.keyring import Keyring
from service.auth.passwords import SealedCredentials
from service.auth.wssecurity import Authenticator
from service.config import Settings
from service.observe.logs import RequestLog
from service.pipeline import ENDPOINTS, PAYLOADS, UNDERSTOOD, Pipeline, operations_of
from service.soap.schema import SchemaSet
from service.soap.stacks import soap_endpoint_of
from service.soap.wsgi import SoapFront
from service.store.db import database_answers, make_engine
from service.store.markets import MarketContexts


def create_app(settings: Settings, engine=None, clock=None) -> SoapFront:
    """``engine`` and ``clock`` are for tests: by default the settings' database, UTC now."""
    engine = engine or make_engine(settings.database_url, autocommit=True)
    schemas = SchemaSet(settings.schema_dir, settings.schema_entry)
    keys = Keyring.load(settings.secret_key_file)
    authenticator = Authenticator(
        keys,
        timedelta(seconds=settings.clock_skew_seconds),
        credential_ttl=settings.credential_cache_seconds,
        allow_insecure_password=settings.allow_insecure_password,
    )
    credentials = SealedCredentials(keys) if settings.allow_registrar_passwords else None
    pipeline = Pipeline(
        engine, schemas, authenticator, market_of=MarketContexts(engine).__getitem__, credentials=credentials
    )
    if clock is not None:
        pipeline.clock = clock
    soap_endpoint = soap_endpoint_of(settings.soap_stack)
    endpoints = {
        name: soap_endpoint(name, operations_of(name), schemas, pipeline.handle, UNDERSTOOD) for name in ENDPOINTS
    }
    # imported here, in the worker: prometheus_client picks its multi-process mode at import,
    # from the environment `temix serve` prepared
    from service.observe.metrics import Metrics

    metrics = Metrics(PAYLOADS, engine)
    observers = [metrics.record] + ([RequestLog(PAYLOADS).record] if settings.log_format == "json" else [])
    return SoapFront(
        settings.schema_dir,
        endpoints,
        settings.max_body_bytes,
        database_ready=partial(database_answers, engine),
        public_url=settings.public_url,
        bind_url=settings.bind_url,
        observe=observers[0] if len(observers) == 1 else partial(_each, observers),
        metrics=metrics.exposition,
    )


def _each(observers, exchange, seconds) -> None:
    for observe in observers:
        observe(exchange, seconds)
