"""What the pool's dead-connection check (service/store/db.py) adds to a request: checkout
and checkin of a pooled connection, with and without it, on an embedded PostgreSQL of its own.

    python bench/checkout.py [--cycles 5000] [--repeat 8]

Prints the best of ``repeat`` runs of ``cycles`` checkouts each (the machine is shared).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from service.store import db  # noqa: E402
from service.store.embedded import start_embedded, stop_embedded  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="temix-bench-"))
    try:
        engine = db.make_engine(start_embedded(data_dir, database="postgres"), autocommit=True)

        def best() -> float:
            runs = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                for _ in range(args.cycles):
                    engine.raw_connection().close()
                runs.append((time.perf_counter() - started) / args.cycles * 1e6)
            return min(runs)

        best()  # warm up
        for _ in range(3):
            checked = best()
            event.remove(engine, "checkout", db._replace_dead_on_checkout)
            unchecked = best()
            event.listen(engine, "checkout", db._replace_dead_on_checkout)
            print(f"checkout + checkin: {checked:.1f} us with the check, {unchecked:.1f} us without")
        engine.dispose()
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
