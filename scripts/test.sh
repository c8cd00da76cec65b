#!/usr/bin/env bash
# Set up (.venv, Python 3.11 or newer: scripts/setup.sh) and run every test: unit, integration
# on an embedded PostgreSQL migrated with Alembic, end-to-end against a started server.
#   scripts/test.sh                 all tests
#   scripts/test.sh -m unit         one tier (unit, integration, e2e, faults, conformance)
#   TEST_DATABASE_URL=postgresql://... scripts/test.sh   on an existing server (role with CREATEDB)
#   PYTHON=python3.12 VENV=.venv-3.12 scripts/test.sh     on another Python, in its own venv
#   EXTRAS=test,demo,spyne scripts/test.sh               with spyne too (Python 3.11): its parity test runs
#   TEMIX_NO_APT=1 scripts/test.sh    no apt-get install of haproxy (scripts/setup-test-tools.sh)
# Fails when pytest fails, including when it collects no test (exit 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
source "$(dirname "${BASH_SOURCE[0]}")/setup-test-tools.sh"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -q "$@"
