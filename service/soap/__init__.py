"""The SOAP adapter: hardened XML in, EI payloads out, spyne kept behind ``app.py``."""
