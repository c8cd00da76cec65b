"""Business-rule errors. Each class carries the EI response code it maps to.

Only the SOAP layer turns these into an ``ei:eiResponse``; the domain and the store
raise them. The code table is documented in README.md ("Response codes").
"""


class TemixError(Exception):
    """A well-formed, valid request that breaks a business rule."""

    response_code = "400"

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class InvalidValueError(TemixError):
    """A value the schema allows but TeMIX does not (bad duration, unit, interval)."""

    response_code = "400"


class NotPermittedError(TemixError):
    """The party may not act on this object (not its tender, not addressed to it)."""

    response_code = "403"


class NotFoundError(TemixError):
    """No tender or transaction with that ID exists for that party."""

    response_code = "404"


class DuplicateIdError(TemixError):
    """The party already used this tenderID or transactionID."""

    response_code = "409"


class NotStandingError(TemixError):
    """The tender is cancelled, expired or fully accepted."""

    response_code = "410"


class TermsMismatchError(TemixError):
    """The transaction's terms differ from the tender's (side, price, interval, ...)."""

    response_code = "412"


class QuantityUnavailableError(TemixError):
    """More than remains of the tender, or a part of an integral-only tender."""

    response_code = "460"


class NotActionableError(TemixError):
    """The tender is a quote (transactive state indication), which cannot be accepted."""

    response_code = "461"


class UnknownMarketContextError(TemixError):
    """The market context is not registered with this service."""

    response_code = "462"


class RequestIdReusedError(TemixError):
    """The requestID was already used by this party for a different request."""

    response_code = "463"
