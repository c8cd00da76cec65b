"""Slow clients against a running server, and how long an ordinary request waits meanwhile.

``clients`` connections each send one request a few bytes at a time over ``seconds`` (half
trickle their head, half their body, like the issue's attack: ~1.2 KB bodies); meanwhile an
ordinary request (an EiRequestTender envelope on a fresh connection, and GET /health) is
sent every ``every`` seconds and timed. Used by bench/fronts.py.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time

from datetime import UTC, datetime

from common import bench_party, fill, interval_text, percentile, tpl_request_tender


def _read_response(sock: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in body")
        body += chunk
    return int(head.split(b" ", 2)[1])


def run(port: int, *, clients: int = 50, seconds: float = 30.0, every: float = 0.25, host: str = "127.0.0.1") -> dict:
    # an ordinary request that finds nothing (a day long ago): the front is measured, not a list
    template = tpl_request_tender(bench_party(0), [interval_text(datetime(2020, 1, 1, tzinfo=UTC),
                                                                  datetime(2020, 1, 2, tzinfo=UTC))])
    dropped = [0]

    def slow(index: int) -> None:
        body = fill(template, rid=f"slow-{index}-{time.time_ns()}")
        head = (f"POST /EiTender HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        # all but the last byte, a few bytes every 0.5 s, then it leaves (as an attacker would)
        trickled, at_once = (head[:-1], b"") if index % 2 else (body[:-1], head)
        try:
            with socket.create_connection((host, port), timeout=seconds + 30) as sock:
                sock.sendall(at_once)
                steps = int(seconds / 0.5)
                step = -(-len(trickled) // steps)
                for i in range(steps):
                    time.sleep(0.5 * (i > 0))
                    sock.sendall(trickled[i * step:(i + 1) * step])
        except OSError:
            dropped[0] += 1  # the server closed the connection before the end of the trickle

    def all_slow() -> None:
        threads = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        queue.put(dropped[0])

    for _ in range(8):  # every worker has verified the probe's password before anything is timed
        with socket.create_connection((host, port), timeout=30) as sock:
            body = fill(template, rid=f"warm-{time.time_ns()}")
            sock.sendall((f"POST /EiTender HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            _read_response(sock)

    # the slow clients in a process of their own: their threads must not slow the timed probe
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=all_slow, daemon=True)
    process.start()
    time.sleep(1.0)
    waits, statuses, timeline = [], {}, []
    started = time.time()
    while time.time() - started < seconds:
        for kind in ("soap", "health"):
            t0 = time.perf_counter()
            try:
                with socket.create_connection((host, port), timeout=seconds + 30) as sock:
                    if kind == "soap":
                        body = fill(template, rid=f"probe-{time.time_ns()}")
                        sock.sendall((f"POST /EiTender HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
                                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
                    else:
                        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                    status = str(_read_response(sock))
            except OSError as error:
                status = type(error).__name__
            waits.append(time.perf_counter() - t0)
            timeline.append((round(time.time() - started, 2), kind, round(waits[-1] * 1000, 1)))
            statuses[status] = statuses.get(status, 0) + 1
        time.sleep(every)
    dropped[0] = queue.get(timeout=120)
    process.join(timeout=10)
    waits.sort()
    return {"slow_clients": clients, "trickle_s": seconds, "probes": len(waits), "statuses": statuses,
            "p50_ms": percentile(waits, 0.5) * 1000, "p99_ms": percentile(waits, 0.99) * 1000,
            "max_ms": waits[-1] * 1000 if waits else None,
            "over_100ms": sum(1 for w in waits if w > 0.1),
            "slowest": sorted(timeline, key=lambda t: -t[2])[:5], "slow_clients_dropped": dropped[0]}
