"""The conformance tier: one test per normative EI / TeMIX rule the service keeps, named after
the rule and quoting it (from the README, which states the contract, or the TeMIX and EI
texts it follows). Each runs against the real service assembled in-process on PostgreSQL
(``tests.support.service``): parse, validate, authenticate, handle, commit, as served."""

from __future__ import annotations

from tests.support.service import clock, service  # noqa: F401  (fixtures)
