"""TeMIX / Energy Interoperation SOAP service."""

__version__ = "0.1.0"
