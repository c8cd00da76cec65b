"""For clients of the service: helpers for SOAP toolkits (zeep) talking to it."""

from service.client.zeep_substitution import SubstitutionPlugin, substitute

__all__ = ["SubstitutionPlugin", "substitute"]
