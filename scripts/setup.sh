# Sourced by scripts/test.sh and scripts/serve.sh: make a venv in the checkout and install the
# service into it, editable, with the extras the tests and the demo need. Reinstalls only when
# pyproject.toml or the extras changed since the last install.
#   PYTHON=/path/to/python3   interpreter of a new venv, Python 3.11 or newer (default: the first
#                             of python3.11, python3.12, python3.13, python3 that runs and is)
#   VENV=/path/to/venv        the venv (default .venv in the checkout)
#   EXTRAS=test,demo,spyne    the extras (default test,demo; spyne needs Python 3.11)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
EXTRAS="${EXTRAS:-test,demo}"

supported() {  # runs, and is Python 3.11 or newer (a pyenv shim of a version not selected does not run)
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

if [ ! -x "$VENV/bin/python" ]; then
    if [ -n "${PYTHON:-}" ]; then
        supported "$PYTHON" || {
            echo "setup: PYTHON=$PYTHON does not run or is older than Python 3.11" >&2
            exit 1
        }
    else
        for candidate in python3.11 python3.12 python3.13 python3; do
            if supported "$candidate"; then PYTHON="$candidate"; break; fi
        done
        [ -n "${PYTHON:-}" ] || {
            echo "setup: no Python 3.11 or newer found; install one or set PYTHON=/path/to/python3" >&2
            exit 1
        }
    fi
    echo "setup: creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')" >&2
    "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.temix-installed"
WANTED="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) [$EXTRAS]"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "setup: installing temix-service[$EXTRAS] into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$EXTRAS]"
    echo "$WANTED" > "$STAMP"
fi
