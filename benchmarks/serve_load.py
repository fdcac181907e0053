"""Loopback load test of the studio: requests/s and p50/p99 latency for generate-64-sprites.

Starts `spritegan serve` as a subprocess on a free 127.0.0.1 port, then sends POST /api/generate
(64 seeds, JSON with base64 PNGs, as the page asks) from 1 and 4 concurrent clients. Each level is
bounded by --requests and --seconds. Prints a markdown table.

    python benchmarks/serve_load.py --requests 40 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _level(
    url: str, body: dict, clients: int, max_requests: int, seconds: float
) -> tuple[list[float], float, int]:
    """Latencies of successful requests, wall time, and the number of failures."""
    import httpx

    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]
    sent = [0]
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    if sent[0] >= max_requests or time.monotonic() > deadline:
                        return
                    sent[0] += 1
                t0 = time.perf_counter()
                r = client.post(url, json=body)
                dt = time.perf_counter() - t0
                with lock:
                    if r.status_code == 200:
                        latencies.append(dt)
                    else:
                        failures[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0, failures[0]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Start the server, run each concurrency level, print the table, stop the server."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--runs", help="runs folder holding the model (default: a random-weight sprite-preset model)"
    )
    ap.add_argument("--model", default="bench")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--requests", type=int, default=40, help="at most this many requests per level")
    ap.add_argument("--seconds", type=float, default=20.0, help="at most this long per level")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    args = ap.parse_args()

    import httpx

    from studio_model import describe, make_bench_run

    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp()) / "runs"
    if not args.runs:
        make_bench_run(runs, args.model, size=args.size)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "spritegan",
        "serve",
        str(runs),
        "--port",
        str(port),
        "--threads",
        str(args.threads),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/models", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(
                        "server did not start: " + server.stderr.read().decode()[-500:]
                    ) from None
                time.sleep(0.2)
        body = {"model": args.model, "seed": 0, "count": 64, "format": "json"}
        httpx.post(base + "/api/generate", json=body, timeout=60).raise_for_status()
        rows = []
        for clients in (1, 4):
            lat, wall, failed = _level(base + "/api/generate", body, clients, args.requests, args.seconds)
            rows.append((clients, len(lat), failed, len(lat) / wall, _pct(lat, 0.5), _pct(lat, 0.99)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"Model: {describe(runs / args.model)}; server torch threads: {args.threads}.")
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, loopback HTTP."
    )
    print("Request: POST /api/generate, 64 seeds, format json (64 base64 PNGs).\n")
    print("| clients | requests | failed | requests/s | sprites/s | p50 ms | p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for clients, n, failed, rps, p50, p99 in rows:
        print(
            f"| {clients} | {n} | {failed} | {rps:.2f} | {rps * 64:.0f} | {p50 * 1000:.0f} | {p99 * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
