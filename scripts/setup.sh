# Sourced by scripts/test.sh and scripts/serve.sh: make .venv (Python 3.11) in the checkout
# and install the service into it, editable, with the test tools. Reinstalls only when
# pyproject.toml changed since the last install.
#   PYTHON=/path/to/python3.11 to choose the interpreter.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
        echo "setup: $PYTHON is not Python 3.11 (spyne 2.14 needs 3.11)" >&2
        exit 1
    }
    echo "setup: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.temix-installed"
WANTED="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "setup: installing temix-service and its test tools into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]"
    echo "$WANTED" > "$STAMP"
fi
