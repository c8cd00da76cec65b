"""The SOAP layer on the request path, as TEMIX_SOAP_STACK names it: ``lxml`` (ours,
service/soap/endpoint.py) or ``spyne`` (service/soap/spyne_app.py, the ``spyne`` extra)."""

from __future__ import annotations

from collections.abc import Callable

from service.config import SettingsError


def soap_endpoint_of(stack: str) -> Callable:
    """The stack's ``soap_endpoint(endpoint, operations, schemas, handle, understood)``; spyne is imported
    only when chosen, and its absence is a settings error, found at start-up."""
    if stack == "spyne":
        try:
            from service.soap.spyne_app import soap_endpoint
        except ImportError as error:
            raise SettingsError(
                "TEMIX_SOAP_STACK=spyne needs the spyne extra, on Python 3.11 (spyne 2.14 does not"
                f" import on 3.12 or newer): pip install -e '.[spyne]' in the checkout ({error})"
            ) from error
        return soap_endpoint
    from service.soap.endpoint import soap_endpoint

    return soap_endpoint
