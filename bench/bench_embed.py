"""Embedding runtimes in one run: PyTorch vs ONNX Runtime fp32 vs int8 speed, and int8's quality cost.

Prints, measured in one run on a subset of the wiki summaries (default 2,000 articles):
- chunks/s of ``SentenceTransformer.encode`` (PyTorch), ONNX Runtime fp32 and int8 on the same chunk
  texts, interleaved, best of 2, and each one's cosine to PyTorch (min / mean); and fp32 as it ran
  before the bulk workers (``fp32 1 sess``: one session on every CPU, batches of 4), so the change
  is measured in the same run;
- the wiki known-item task (``sift eval retrieval --dataset wiki-known-item``'s queries, restricted to
  the subset's articles), dense MRR@10 of an fp32-built and an int8-built index (target: int8 loses
  <= 0.01);
- a float32 matmul's GFLOP/s on this CPU and each runtime's share of it (MiniLM: ~22 MFLOP/token).

Usage: ``python bench/bench_embed.py [--docs 2000] [--texts 600] [--queries 1000]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FLOP_PER_TOKEN = 22e6  # MiniLM-L6: 2 x 22.7M parameters (embeddings' lookups excluded, attention's few added)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an (n, n) @ (n, n) float32 matmul (NumPy's BLAS, every core), e.g. 180.0."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b  # warm the BLAS threads
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best / 1e9


def _seconds(encode, texts: list[str]) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def _one_session(embedder: Any) -> Callable[[list[str]], np.ndarray]:
    """``embedder.encode`` as it ran before the bulk workers: one session on every CPU (spinning), batches of 4."""

    def encode(texts: list[str]) -> np.ndarray:
        before = os.environ.get("SIFT_EMBED_WORKERS")
        os.environ["SIFT_EMBED_WORKERS"] = "1"
        try:
            return np.asarray(embedder.encode(texts, batch_size=4))
        finally:
            if before is None:
                del os.environ["SIFT_EMBED_WORKERS"]
            else:
                os.environ["SIFT_EMBED_WORKERS"] = before

    return encode


def main() -> None:
    from bench.bench_index import _subset
    from indexing.chunker import ChunkerConfig
    from indexing.embedder import Embedder
    from indexing.sync import Syncer
    from pipelines.retrieval_data import wiki_known_item
    from pipelines.retrieval_eval import evaluate_retrieval

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="wiki articles (default 2000)")
    parser.add_argument("--texts", type=int, default=600, help="chunk texts timed per runtime (default 600)")
    parser.add_argument("--queries", type=int, default=1000, help="known-item queries (default 1000)")
    args = parser.parse_args()
    fp32, int8 = Embedder(), Embedder(quantize="int8")
    print(f"runtimes: {fp32.runtime}, {int8.runtime} (graphs loaded or exported and cached before any timing)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        _subset(args.docs, folder)
        dataset = wiki_known_item(folder / "summaries_en-us.json", n=args.queries, seed=0)
        reports = {}
        for name, emb in (("fp32", fp32), ("int8", int8)):
            reports[name] = evaluate_retrieval(dataset, emb, Path(tmp) / name, folder, ChunkerConfig(), ["dense"])
        syncer = Syncer(Path(tmp) / "fp32", fp32, ChunkerConfig())
        from app.workspace import Workspace

        chunks = Workspace(Path(tmp) / "fp32").chunks()
        texts = [syncer.embed_text(c.title, c.text) for c in chunks][: args.texts]
    runtimes = {"PyTorch": fp32.encode_torch, "ONNX fp32": fp32.encode, "ONNX int8": int8.encode,
                "fp32 1 sess": _one_session(fp32)}
    for encode in runtimes.values():
        encode(texts[:16])  # sessions made, threads up
    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(2):  # interleaved, so each sees the same machine load
        for name, encode in runtimes.items():
            seconds, vectors[name] = _seconds(encode, texts)
            best[name] = min(best.get(name, float("inf")), seconds)
    tokens = sum(min(n + 2, fp32.max_seq_length) for n in fp32.count_tokens_many(texts))
    gflops = matmul_gflops()
    print(f"{args.docs} articles, {len(dataset.queries)} known-item queries; {len(texts)} chunk texts "
          f"({tokens} tokens) timed, best of 2, interleaved")
    print(f"float32 matmul: {gflops:.0f} GFLOP/s (NumPy BLAS, {os.cpu_count()} CPUs)")
    for name, seconds in best.items():
        cosine = np.sum(vectors[name] * vectors["PyTorch"], axis=1)
        share = tokens * FLOP_PER_TOKEN / seconds / 1e9 / gflops
        print(f"  {name:<10} {len(texts) / seconds:7.1f} chunks/s  x{best['PyTorch'] / seconds:4.2f} vs PyTorch  "
              f"cosine to PyTorch min {cosine.min():.5f} mean {cosine.mean():.5f}  {share:5.1%} of matmul peak")
    mrr = {name: report["results"]["dense"]["mrr@10"] for name, report in reports.items()}
    for name, report in reports.items():
        print(f"  index {name}: built in {report['index_seconds']:.1f} s, dense MRR@10 {mrr[name]:.4f}")
    print(f"int8 MRR@10 loss: {mrr['fp32'] - mrr['int8']:+.4f} (target <= 0.01)")


if __name__ == "__main__":
    main()
