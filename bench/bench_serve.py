"""Load on one `sift serve`: N concurrent clients searching and asking, some leaving mid-answer, for a fixed time.

Starts ``sift serve`` on the index in a child process, measures idle latency (one client, one request at a
time) and then the loaded latency in the same run. Each client asks on every ``--ask-every``-th request (a
streamed ``/v1/ask``) and searches otherwise; a share of the asks (``--leave-share``) close the connection after
the first token, as a chat UI's Stop button does. Clients stop starting requests when the time is up and finish
what is in flight. A refused ask (429, the server's ``--max-queue``) is not retried: the client goes on.

Printed: searches (errors, p50/p99) and asks: answered, refused with 429, left mid-stream, errors, and hangs
(no byte of response within ``--hang-s``: must be 0), p50/p99 of answered and of refused asks, the loaded/idle
ratios, then one more ask after the load (answered, not refused: every place was given back).

With ``--build-docs N`` and no index at ``--index``, the index is first built from the N wiki articles the
questions are about (``sift index``), so a short run needs no prebuilt index.

Usage: ``python bench/bench_serve.py [--index data/index] [--build-docs 40] [--clients 20] [--seconds 60]
[--ask-every 10] [--leave-share 0.3] [--max-queue 8] [--preset smollm2-135m] [--hang-s 300]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.corpora import fetch_corpus  # noqa: E402
from pipelines.retrieval_data import wiki_known_item  # noqa: E402

SIFT = str(ROOT / ".venv/bin/sift")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build(index: str, summaries: Path, titles: list[str]) -> None:
    """Index the wiki articles called ``titles`` (one text file each) at ``index``."""
    data = {v["title"]: v["extract"] for v in json.loads(summaries.read_text(encoding="utf-8")).values()}
    with tempfile.TemporaryDirectory(prefix="sift-bench-serve-") as folder:
        for n, title in enumerate(titles):
            Path(folder, f"{n:03}.txt").write_text(f"{title}\n\n{data[title]}\n", encoding="utf-8")
        subprocess.run([SIFT, "index", folder, "--index", index], check=True, stdout=subprocess.DEVNULL)


def _start(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    cmd = [SIFT, "serve", "--index", args.index, "--port", str(port), "--max-queue", str(args.max_queue)]
    cmd += ["--preset", args.preset] if args.preset else []
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


def search(client: httpx.Client, query: str) -> tuple[str, float]:
    """("ok" | "error" | "hang", seconds) of one search."""
    start = time.perf_counter()
    try:
        ok = client.post("/v1/search", json={"query": query, "k": 10}).status_code == 200
        outcome = "ok" if ok else "error"
    except httpx.TimeoutException:
        outcome = "hang"
    except httpx.HTTPError:
        outcome = "error"
    return outcome, time.perf_counter() - start


def ask(client: httpx.Client, question: str, leave: bool) -> tuple[str, float]:
    """(outcome, seconds) of one streamed ask: answered, refused (429), left (closed after the first token),
    error, or hang (no byte within the client's read timeout)."""
    start = time.perf_counter()
    try:
        with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
            if response.status_code == 429:
                response.read()
                return "refused", time.perf_counter() - start
            if response.status_code != 200:
                return "error", time.perf_counter() - start
            outcome = "error"
            for line in response.iter_lines():
                if line == "event: token" and leave:
                    return "left", time.perf_counter() - start  # leaving the block closes the connection
                if line == "event: answer":
                    outcome = "answered"
            return outcome, time.perf_counter() - start
    except httpx.TimeoutException:
        return "hang", time.perf_counter() - start
    except httpx.HTTPError:
        return "error", time.perf_counter() - start


def _p(samples: list[float]) -> str:
    if not samples:
        return "p50 -, p99 -"
    arr = np.array(samples) * 1000
    return f"p50 {np.percentile(arr, 50):,.0f} ms, p99 {np.percentile(arr, 99):,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=os.environ.get("SIFT_INDEX", "data/index"))
    parser.add_argument("--build-docs", type=int, default=0, metavar="N",
                        help="with no index at --index, build one from the N wiki articles asked about")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ask-every", type=int, default=10, help="every N-th request of a client asks (0: never)")
    parser.add_argument("--leave-share", type=float, default=0.3, help="share of asks that leave after a token")
    parser.add_argument("--max-queue", type=int, default=8, help="the server's --max-queue")
    parser.add_argument("--hang-s", type=float, default=300.0, help="no response byte for this long: a hang")
    parser.add_argument("--preset", help="generator preset of the server (default: its default)")
    args = parser.parse_args()
    summaries = fetch_corpus("wiki") / "summaries_en-us.json"
    known = wiki_known_item(summaries, n=400, seed=3)
    queries = list(known.queries.values())
    titles = [next(iter(known.qrels[q])) for q in known.queries]
    if args.build_docs and not Path(args.index).exists():
        _build(args.index, summaries, titles[: args.build_docs])
    if not (Path(args.index) / "manifest.json").exists():
        raise SystemExit(f"bench_serve: no index at {args.index}: build one (`sift index data/corpora/wiki --index "
                         f"{args.index}`) or pass --build-docs N")
    questions = [f"What is {t}?" for t in titles[: args.build_docs or len(titles)]]
    port = free_port()
    proc = _start(args, port)
    timeout = httpx.Timeout(args.hang_s)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
            warm = search(client, queries[0])[0], ask(client, questions[0], leave=False)[0]  # loads the generator
            if warm != ("ok", "answered"):
                raise SystemExit(f"bench_serve: one client alone got {warm} from the server on {args.index}; "
                                 "timing a failing server would mean nothing")
            idle = {"search": [search(client, q)[1] for q in queries[1:51]],
                    "ask": [ask(client, q, leave=False)[1] for q in questions[1:4]]}
        print(f"idle (1 client): search {_p(idle['search'])}; ask {_p(idle['ask'])}")
        outcomes = _load(port, queries, questions, args, timeout)
        _report(outcomes, idle, args)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
            outcome, seconds = ask(client, questions[-1], leave=False)
        print(f"after the load: one ask {outcome} in {seconds:.1f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _load(
    port: int, queries: list[str], questions: list[str], args: argparse.Namespace, timeout: httpx.Timeout
) -> dict[tuple[str, str], list[float]]:
    """(route, outcome) → seconds of each request the clients made."""
    outcomes: dict[tuple[str, str], list[float]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def client_loop(n: int) -> None:
        leave = random.Random(n)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
            i = 0
            while time.monotonic() < stop_at:
                if args.ask_every and i % args.ask_every == args.ask_every - 1:
                    route = "ask"
                    outcome, seconds = ask(client, questions[(n * 7 + i) % len(questions)],
                                           leave=leave.random() < args.leave_share)
                else:
                    route = "search"
                    outcome, seconds = search(client, queries[(n * 97 + i) % len(queries)])
                with lock:
                    outcomes[(route, outcome)].append(seconds)
                i += 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _report(outcomes: dict[tuple[str, str], list[float]], idle: dict[str, list[float]],
            args: argparse.Namespace) -> None:
    counts = Counter({key: len(v) for key, v in outcomes.items()})
    total = sum(counts.values())
    searches = outcomes[("search", "ok")]
    asks = {o: counts[("ask", o)] for o in ("answered", "refused", "left", "error", "hang")}
    print(f"loaded ({args.clients} clients, {args.seconds:.0f} s, --max-queue {args.max_queue}): {total} requests")
    print(f"  search: {len(searches)} ok ({_p(searches)}), {counts[('search', 'error')]} errors, "
          f"{counts[('search', 'hang')]} hangs")
    print(f"  ask: {sum(asks.values())}: {asks['answered']} answered ({_p(outcomes[('ask', 'answered')])}), "
          f"{asks['refused']} refused with 429 ({_p(outcomes[('ask', 'refused')])}), "
          f"{asks['left']} left mid-stream, {asks['error']} errors")
    hangs = counts[("search", "hang")] + asks["hang"]
    print(f"  hangs (no response within {args.hang_s:.0f} s): {hangs} (must be 0)")
    for route, key in (("search", ("search", "ok")), ("ask", ("ask", "answered"))):
        if outcomes[key] and idle[route]:
            ratio = np.percentile(outcomes[key], 50) / np.percentile(idle[route], 50)
            print(f"  {route}: loaded p50 / idle p50 = {ratio:.1f}x")


if __name__ == "__main__":
    main()
