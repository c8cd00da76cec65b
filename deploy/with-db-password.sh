#!/bin/sh
# Run a command (temix serve, a temix admin command) with the database password of a secret
# file in PGPASSWORD, where libpq (psycopg2) takes it when DATABASE_URL carries none; so the
# password is in neither the compose file, the URL, nor the image.
#   TEMIX_DB_PASSWORD_FILE   the file (default /run/secrets/db_password); absent: no password
set -eu
file="${TEMIX_DB_PASSWORD_FILE:-/run/secrets/db_password}"
if [ -r "$file" ]; then
    PGPASSWORD="$(cat "$file")"
    export PGPASSWORD
fi
exec "$@"
