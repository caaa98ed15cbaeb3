"""Readers under a writer: N threads and N processes search and ask while one writer syncs changes.

The index holds a static corpus plus five "rotating" documents that the writer rewrites together with a
new version token (``v17``) before each sync, so every committed generation has all five at one
version, under new chunk ids. A search for them is *consistent* when it returns all five and they carry
one version: vectors of one generation read against the rows of another would lose hits (their chunk
ids are gone) or mix versions. Reported: requests, errors,
inconsistent results, search p50/p99 idle (one reader, no writer) and under load in the same run, asks,
and the writer's syncs.

Usage: ``python bench/bench_load.py [--threads 10] [--processes 10] [--seconds 60] [--ask-every 20]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUERY = "zebra lighthouse keeper logbook"
VERSION = re.compile(r"\bv(\d+)\b")
ROTATING = 5
ASK_PRESET = "smollm2-135m"  # asks load a generator in every reader process: the small one


def write_rotating(folder: Path, version: int) -> None:
    for i in range(ROTATING):
        text = (f"Zebra lighthouse keeper logbook, entry {i}, version v{version}. The keeper noted the "
                f"weather, the ships and the zebra lighthouse lamp at v{version}.\n")
        (folder / f"log{i}.txt").write_text(text, encoding="utf-8")


def build(root: Path, static: int) -> tuple[Path, Path]:
    from app.workspace import Workspace

    corpus = root / "corpus"
    (corpus / "static").mkdir(parents=True)
    (corpus / "rotating").mkdir()
    rng = random.Random(0)
    words = "river harbour castle market garden tower valley island canal village station orchard".split()
    for n in range(static):
        body = " ".join(rng.choice(words) for _ in range(80))
        (corpus / "static" / f"note{n:04d}.md").write_text(f"# Note {n}\n\n{body}.\n", encoding="utf-8")
    write_rotating(corpus / "rotating", 0)
    index = root / "index"
    Workspace(index).index([corpus])
    return corpus, index


def one_search(ws: Any) -> tuple[float, bool]:
    """(seconds, consistent) of one hybrid search for the rotating documents."""
    started = time.perf_counter()
    hits = ws.search(QUERY, k=10, mode="hybrid")
    seconds = time.perf_counter() - started
    rotating = [h for h in hits if "logbook" in h.text]
    versions = {m.group(1) for h in rotating for m in VERSION.finditer(h.text)}
    return seconds, len(versions) == 1 and len({h.doc_id for h in rotating}) == ROTATING


def reader_loop(ws: Any, deadline: float, ask_every: int, out: dict[str, Any]) -> None:
    n = 0
    while time.time() < deadline:
        n += 1
        try:
            if ask_every and n % ask_every == 0:
                started = time.perf_counter()
                ws.ask("What did the zebra lighthouse keeper note?", preset=ASK_PRESET)
                out["asks"].append(time.perf_counter() - started)
            else:
                seconds, consistent = one_search(ws)
                out["search"].append(seconds)
                out["inconsistent"] += not consistent
        except Exception as exc:  # noqa: BLE001 - every failure is what this benchmark counts
            out["errors"].append(f"{type(exc).__name__}: {exc}")


def _stats() -> dict[str, Any]:
    return {"search": [], "asks": [], "inconsistent": 0, "errors": []}


def writer_loop(corpus: Path, index: Path, deadline: float, out: dict[str, Any]) -> None:
    from app.workspace import Workspace

    ws = Workspace(index)
    version = 0
    while time.time() < deadline:
        version += 1
        write_rotating(corpus / "rotating", version)
        try:
            report = ws.index([corpus])
            out["syncs"] += 1
            out["updated"] += len(report.updated)
        except Exception as exc:  # noqa: BLE001
            out["errors"].append(f"writer {type(exc).__name__}: {exc}")
        time.sleep(0.5)


def _p(samples: list[float]) -> str:
    if not samples:
        return "-"
    arr = np.array(samples) * 1000
    return f"p50 {np.percentile(arr, 50):.0f} ms, p99 {np.percentile(arr, 99):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ask-every", type=int, default=20, help="every N-th request of a reader asks (0: never)")
    parser.add_argument("--static", type=int, default=300, help="static documents besides the rotating five")
    args = parser.parse_args()
    from app.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="sift-load-"))
    corpus, index = build(root, args.static)
    ws = Workspace(index)
    ws.ask("warm up", preset=ASK_PRESET)
    idle_runs = [one_search(ws) for _ in range(200)]
    idle = [seconds for seconds, _ in idle_runs]
    ctx = mp.get_context("spawn")
    go, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
    deadline_value = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=_process_entry, args=(str(index), deadline_value, args.ask_every, go, ready, results))
             for _ in range(args.processes)]
    for p in procs:
        p.start()
    for _ in procs:  # each has loaded its models and the index before the clock starts
        ready.get(timeout=600)
    deadline = time.time() + args.seconds
    deadline_value.value = deadline
    go.set()
    writer = {"syncs": 0, "updated": 0, "errors": []}
    outs = [_stats() for _ in range(args.threads)]
    threads = [threading.Thread(target=reader_loop, args=(ws, deadline, args.ask_every, o)) for o in outs]
    threads.append(threading.Thread(target=writer_loop, args=(corpus, index, deadline, writer)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs += [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    search = [s for o in outs for s in o["search"]]
    asks = [s for o in outs for s in o["asks"]]
    errors = [e for o in outs for e in o["errors"]] + writer["errors"]
    inconsistent = sum(o["inconsistent"] for o in outs)
    print(f"index: {args.static + ROTATING} documents; readers: {args.threads} threads + {args.processes} processes; "
          f"writer: {writer['syncs']} syncs ({writer['updated']} documents re-embedded) in {args.seconds:.0f} s")
    print(f"requests {len(search) + len(asks)} (searches {len(search)}, asks {len(asks)}), errors {len(errors)}, "
          f"results not from one generation (a rotating document missing, or versions mixed) {inconsistent}")
    print(f"search idle: {_p(idle)} ({sum(not ok for _, ok in idle_runs)} of {len(idle_runs)} not consistent: "
          f"the check itself); under load: {_p(search)}; ask under load: {_p(asks)}")
    if search:
        print(f"loaded p50 / idle p50 = {np.percentile(search, 50) / np.percentile(idle, 50):.1f}x")
    for e in errors[:10]:
        print(f"  error: {e}")


def _process_entry(index: str, deadline_value: Any, ask_every: int, go: Any, ready: Any, results: Any) -> None:
    from app.workspace import Workspace

    ws = Workspace(index)
    ws.search(QUERY, k=10)
    if ask_every:
        ws.ask("warm up", preset=ASK_PRESET)
    ready.put(os.getpid())
    go.wait()
    out = _stats()
    reader_loop(ws, deadline_value.value, ask_every, out)
    results.put(out)


if __name__ == "__main__":
    main()
