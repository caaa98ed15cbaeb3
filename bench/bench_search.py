"""Search latency on the default index: p50 / p99 per mode over known-item queries.

Targets: dense p50 <= 10 ms, hybrid p50 <= 20 ms. Also prints the ratio of dense latency to the
query embedding alone (the floor that dense search cannot beat), and the query embedding through
PyTorch against the ONNX Runtime fast path the search uses (see indexing/query_runtime.py).

Usage: ``python bench/bench_search.py [--index data/index] [--queries 300]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.corpora import fetch_corpus  # noqa: E402
from app.workspace import Workspace  # noqa: E402
from pipelines.retrieval_data import wiki_known_item  # noqa: E402
from pipelines.search import MODES  # noqa: E402


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=os.environ.get("SIFT_INDEX", "data/index"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    ws = Workspace(args.index)
    queries = list(
        wiki_known_item(fetch_corpus("wiki") / "summaries_en-us.json", n=args.queries, seed=1).queries.values()
    )
    ws.embedder.warm_up(queries=True)
    for q in queries[:20]:  # warm-up: model, FAISS, BM25 load
        for mode in MODES:
            ws.search(q, k=args.k, mode=mode)
    info = ws.info()
    print(
        f"index {args.index}: {info['documents']} documents, {info['chunks']} chunks; "
        f"{len(queries)} queries, k={args.k}"
    )
    fast = ws.embedder.query_encoder()
    torch_times, encode = [], []
    for q in queries:  # interleaved, so both see the same machine load
        started = time.perf_counter()
        ws.embedder.encode_torch([q])
        torch_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        ws.embedder.encode([q])
        encode.append(time.perf_counter() - started)
    t50, t99 = _percentiles(torch_times)
    e50, e99 = _percentiles(encode)
    print(f"{'embed (PyTorch)':<16} p50 {t50:7.2f} ms   p99 {t99:7.2f} ms")
    runtime = "ONNX Runtime" if fast is not None else "PyTorch: no fast path"
    print(f"{'embed (search)':<16} p50 {e50:7.2f} ms   p99 {e99:7.2f} ms   ({runtime}; PyTorch/this {t50 / e50:4.2f})")
    for mode in MODES:
        times = []
        for q in queries:
            started = time.perf_counter()
            ws.search(q, k=args.k, mode=mode)
            times.append(time.perf_counter() - started)
        p50, p99 = _percentiles(times)
        print(f"{mode:<16} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   p50 / embedding p50 {p50 / e50:5.2f}")


if __name__ == "__main__":
    main()
