"""Load on one `sift serve`: N concurrent clients searching and asking for a fixed time, over HTTP on localhost.

Starts ``sift serve`` on the index in a child process, measures idle latency (one client, one request at a
time) and then the loaded latency in the same run, and prints errors, requests, p50/p99 per route and the
loaded/idle ratio. Each client asks (``/v1/ask``) on ``--ask-every``-th request and searches otherwise,
with questions from the wiki known-item set; clients stop starting requests when the time is up and finish
what is in flight.

Usage: ``python bench/bench_serve.py [--index data/index] [--clients 20] [--seconds 60] [--ask-every 10]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.corpora import fetch_corpus  # noqa: E402
from pipelines.retrieval_data import wiki_known_item  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(index: str, port: int, preset: str | None) -> subprocess.Popen[bytes]:
    cmd = [str(ROOT / ".venv/bin/sift"), "serve", "--index", index, "--port", str(port)]
    cmd += ["--preset", preset] if preset else []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"sift serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def _call(client: httpx.Client, route: str, query: str) -> tuple[bool, float]:
    body = {"query": query, "k": 10} if route == "search" else {"question": query}
    start = time.perf_counter()
    try:
        ok = client.post(f"/v1/{route}", json=body).status_code == 200
    except httpx.HTTPError:
        ok = False
    return ok, time.perf_counter() - start


def _p(samples: list[float]) -> str:
    if not samples:
        return "p50 -, p99 -"
    arr = np.array(samples) * 1000
    return f"p50 {np.percentile(arr, 50):,.0f} ms, p99 {np.percentile(arr, 99):,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=os.environ.get("SIFT_INDEX", "data/index"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ask-every", type=int, default=10, help="every N-th request of a client asks (0: never)")
    parser.add_argument("--preset", help="generator preset of the server (default: its default)")
    args = parser.parse_args()
    queries = list(wiki_known_item(fetch_corpus("wiki") / "summaries_en-us.json", n=400, seed=3).queries.values())
    port = free_port()
    proc = _start(args.index, port, args.preset)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            _call(client, "search", queries[0])
            _call(client, "ask", queries[0])  # loads the generator
            idle = {"search": [_call(client, "search", q)[1] for q in queries[1:51]]}
            idle["ask"] = [_call(client, "ask", q)[1] for q in queries[51:54]]
        print(f"idle (1 client): search {_p(idle['search'])}; ask {_p(idle['ask'])}")
        loaded, errors = _load(port, queries, args)
        total = sum(len(v) for v in loaded.values())
        counts = "; ".join(f"{r} {len(loaded[r])} ({_p(loaded[r])})" for r in ("search", "ask"))
        print(f"loaded ({args.clients} clients, {args.seconds:.0f} s): {total} requests, {errors} errors; {counts}")
        for route in ("search", "ask"):
            if loaded[route] and idle[route]:
                ratio = np.percentile(loaded[route], 50) / np.percentile(idle[route], 50)
                print(f"{route}: loaded p50 / idle p50 = {ratio:.1f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _load(port: int, queries: list[str], args: argparse.Namespace) -> tuple[dict[str, list[float]], int]:
    times: dict[str, list[float]] = defaultdict(list)
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def client_loop(n: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=900) as client:
            i = 0
            while time.monotonic() < stop_at:
                route = "ask" if args.ask_every and i % args.ask_every == args.ask_every - 1 else "search"
                ok, seconds = _call(client, route, queries[(n * 97 + i) % len(queries)])
                with lock:
                    times[route].append(seconds)
                    errors += not ok
                i += 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


if __name__ == "__main__":
    main()
