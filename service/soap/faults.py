"""SOAP faults: what the client did wrong, said precisely, never with a stack trace.

These are raised anywhere in the SOAP layer and turned into a SOAP 1.1 Fault by the endpoint
(``service.soap.endpoint``, or ``spyne_app`` when TEMIX_SOAP_STACK=spyne). Business-rule
breaches are not faults: they are ``service.domain.errors.TemixError`` and become an EiResponse.
"""

import logging


class SoapFault(Exception):
    """A request refused before any business logic ran. Nothing is written."""

    faultcode = "Client"
    http_status = 500  # SOAP 1.1 over HTTP: faults travel with 500
    log_level = logging.INFO

    def __init__(self, faultstring: str):
        super().__init__(faultstring)
        self.faultstring = faultstring

    def log_line(self) -> str:
        """The one line our log keeps of it."""
        return f"refused with a fault: {self.faultcode}: {self.faultstring}"


class DatabaseUnavailableFault(SoapFault):
    """The database could not be reached, or the connection to it was lost: a Server fault,
    answered at once. The client may send the same request again (same requestID): a
    state-changing request is applied once."""

    faultcode = "Server"
    log_level = logging.WARNING

    def __init__(self, reason: str, *, committing: bool = False):
        super().__init__(
            "The database is unavailable: the connection was lost while committing, the request may have"
            " been applied; send it again with the same requestID to get its answer"
            if committing
            else "The database is unavailable: the request was not applied; try again later"
        )
        self.reason = reason
        self.committing = committing

    def log_line(self) -> str:
        outcome = "lost while committing (applied or not)" if self.committing else "request not applied"
        return f"database unavailable, {outcome}: {self.reason}"


class VersionMismatchFault(SoapFault):
    """An Envelope in another namespace than SOAP 1.1's (a SOAP 1.2 client, say): SOAP 1.1
    section 4.4.1 names this fault VersionMismatch, unqualified by Client or Server."""

    faultcode = "VersionMismatch"


class MustUnderstandFault(SoapFault):
    """A header entry addressed to us with soap:mustUnderstand="1" that we do not process
    (SOAP 1.1 section 4.2.3): refused rather than silently ignored."""

    faultcode = "MustUnderstand"


class MalformedXmlFault(SoapFault):
    faultcode = "Client.MalformedXml"


class ForbiddenXmlFault(SoapFault):
    """DTDs, entities, processing tricks: refused outright (XXE, billion laughs)."""

    faultcode = "Client.ForbiddenXml"


class RequestTooLargeFault(SoapFault):
    faultcode = "Client.RequestTooLarge"
    http_status = 413


class SoapEnvelopeFault(SoapFault):
    """Not a SOAP 1.1 envelope with exactly one Body child."""

    faultcode = "Client.SoapEnvelope"


class SchemaValidationFault(SoapFault):
    faultcode = "Client.SchemaValidation"


class UnknownOperationFault(SoapFault):
    faultcode = "Client.UnknownOperation"


class AuthenticationFault(SoapFault):
    """WS-Security 1.0: missing, malformed or wrong credentials, or a replayed nonce."""

    faultcode = "wsse:FailedAuthentication"


class ImpersonationFault(SoapFault):
    """The authenticated party is not the party the payload speaks for."""

    faultcode = "Client.NotAuthorized"


class ValueTooLongFault(SoapFault):
    """An element's text longer than the service holds (``service.domain.limits``)."""

    faultcode = "Client.ValueTooLong"


class TooManyItemsFault(SoapFault):
    """More elements of one kind in a request than the per-request limit."""

    faultcode = "Client.TooManyItems"


class InsecureTransportFault(SoapFault):
    """A credential that would travel in the clear (PasswordText over plain HTTP)."""

    faultcode = "Client.InsecureTransport"
