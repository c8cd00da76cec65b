"""SOAP faults: what the client did wrong, said precisely, never with a stack trace.

These are raised anywhere in the SOAP layer and turned into a SOAP 1.1 Fault by the endpoint
(``service.soap.endpoint``, or ``spyne_app`` when TEMIX_SOAP_STACK=spyne). Business-rule
breaches are not faults: they are ``service.domain.errors.TemixError`` and become an EiResponse.
"""


class SoapFault(Exception):
    """A request refused before any business logic ran. Nothing is written."""

    faultcode = "Client"
    http_status = 500  # SOAP 1.1 over HTTP: faults travel with 500

    def __init__(self, faultstring: str):
        super().__init__(faultstring)
        self.faultstring = faultstring


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
