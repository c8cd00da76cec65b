"""Wait until a `temix serve` answers ``GET /ready`` with 200 (its process runs and its
database answers), for service managers: deploy/temix.service runs it as ExecStartPost, so
`systemctl start temix` returns once the service can serve, and units ordered after it start then.

    python deploy/wait_ready.py [--url http://127.0.0.1:8080] [--timeout 90]

The default address is TEMIX_PORT (8080) on TEMIX_HOST (127.0.0.1; a wildcard address such as
0.0.0.0 is asked on loopback). Exit status 0 once ready, 1 if not ready within the timeout.
Standard library only: it runs with any Python 3.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request

WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def default_url(environ=os.environ) -> str:
    host = environ.get("TEMIX_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{environ.get('TEMIX_PORT', '8080')}"


def ready(url: str) -> str | None:
    """None if ``url``/ready answers 200, else what it answered (or why it did not)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ready", timeout=5) as answer:
            return None if answer.status == 200 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.read(200).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="wait until temix serve answers GET /ready with 200")
    parser.add_argument("--url", default=default_url(), help="the service's address (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait (default %(default)s)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while (why := ready(args.url)) is not None:
        if time.monotonic() >= deadline:
            print(f"temix at {args.url} not ready after {args.timeout:g} s: {why}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"temix at {args.url} is ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
