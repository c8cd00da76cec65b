"""Shared test helpers: EI message builders and an in-process SOAP caller."""
