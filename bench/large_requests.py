"""In-process time of the largest requests the limits allow, per item: how a request's cost
grows with its size (it should be flat per item), and a distribution to many parties.

Starts its own embedded PostgreSQL (as bench/inproc.py), then calls the real WSGI app once
per (operation, size), after one warm-up request of that operation. One run, no repetition:
figures within 20-30 % are the same on this machine.

    python bench/large_requests.py [--parties 2000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from common import CTX, password_of  # noqa: E402
from inproc import prepare, wsgi_post  # noqa: E402
from tests.support import messages as M  # noqa: E402
from tests.support import option_messages as O  # noqa: E402

MAKER, TAKER = "bench-0", "bench-1"
H10 = "2030-01-01T10:00:00Z"


def post(app, path: str, payload, party: str) -> float:
    body = M.envelope(payload, M.username_token(party, password_of(party)))
    started = time.perf_counter()
    wsgi_post(app, path, body)
    return time.perf_counter() - started


def buy():
    return M.product(side="buy", state="transaction", quantity="1")


def measure(app, sizes) -> list[tuple[str, int, float]]:
    rows = []
    for n in sizes:
        tag = f"n{n}"
        ids = [f"{tag}-{i}" for i in range(n)]
        tenders = [(t, M.product()) for t in ids]
        rows.append(("EiCreateTender", n, post(app, "/EiTender", M.create_tender(f"c-{tag}", MAKER, TAKER, *tenders), MAKER)))
        accepted = [(f"x-{t}", t, buy()) for t in ids]
        rows.append(("EiCreateTransaction", n, post(app, "/EiTransaction", M.create_transaction(f"a-{tag}", TAKER, MAKER, *accepted), TAKER)))
        rows.append(("EiCancelTender", n, post(app, "/EiTender", M.cancel_tender(f"x-{tag}", MAKER, *ids), MAKER)))
        one = f"one-{tag}"
        post(app, "/EiTender", M.create_tender(f"c1-{tag}", MAKER, TAKER, (one, M.product())), MAKER)
        rows.append(("EiCancelTender, one tender listed n times", n, post(app, "/EiTender", M.cancel_tender(f"x1-{tag}", MAKER, *[one] * n), MAKER)))
        option = f"opt-{tag}"
        post(app, "/EiTender", M.create_tender(f"o-{tag}", MAKER, TAKER, (option, O.option())), MAKER)
        post(app, "/EiTransaction", M.create_transaction(f"oa-{tag}", TAKER, MAKER, (f"ox-{tag}", option, O.option(side="buy", state="transaction"))), TAKER)
        exercises = [(f"e-{tag}-{i}", H10, "PT1H", "0.01") for i in range(n)]
        rows.append(("EiExerciseOption", n, post(app, "/EiTransaction", O.exercise_option(f"e-{tag}", TAKER, MAKER, f"ox-{tag}", *exercises), TAKER)))
    return rows


def enrol_many(data_dir: Path, count: int) -> None:
    """Parties straight into the tables (no scrypt: they never log in), enrolled in CTX."""
    from sqlalchemy import text

    from service.store.db import make_engine
    from service.store.embedded import start_embedded

    engine = make_engine(start_embedded(data_dir))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO party (party_id, password_hash) SELECT 'p-' || i, 'x' FROM generate_series(1, :n) i"), {"n": count})
        conn.execute(text("INSERT INTO party_market_context SELECT 'p-' || i, :ctx FROM generate_series(1, :n) i"), {"n": count, "ctx": CTX})
    engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parties", type=int, default=2000)
    args = parser.parse_args(argv)
    from service.store.embedded import stop_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="temix-large-"))
    try:
        _, app = prepare(data_dir)
        measure(app, [2])  # warm-up
        rows = measure(app, [10, 100, 1000])
        enrol_many(data_dir, args.parties)
        offers = [(f"d-{i}", M.product()) for i in range(24)]
        rows.append((f"EiDistributeTender, 24 tenders to {args.parties + 1} parties", 24,
                     post(app, "/EiTender", M.distribute_tender("d-24", MAKER, *offers), MAKER)))
        print("| operation | items | ms | us per item |\n|---|---|---|---|")
        for name, n, seconds in rows:
            print(f"| {name} | {n} | {seconds * 1e3:.1f} | {seconds / n * 1e6:.0f} |")
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
