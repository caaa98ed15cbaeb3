"""Flat vs HNSW vs IVF-PQ segments on synthetic MiniLM-like vectors: build time, memory, recall@10, latency.

The data set is synthesized from the default index's real 384-d chunk vectors (10,330 wiki chunks; ``--base``
takes an .npy instead): each vector is
``normalize(b_i + t (b_j - b_i) + e)`` with ``b_j`` one of ``b_i``'s 10 nearest base vectors, ``t ~ U(0, 0.5)``
and Gaussian ``e`` of norm ``--noise`` (0.2: a copy keeps cosine ~0.98 to its blend, so the real data's
neighbourhoods survive while 1M vectors fill the space between them instead of stacking as duplicates).
Held-out queries are drawn the same way and never added. Ground truth is exact flat search in the same run.

Every kind is built, saved, dropped and loaded again before it is measured, so memory is what a reader holds:
``nbytes`` (the segment's own count) and the process's anonymous RSS growth on load (ANN rows stay
memory-mapped, i.e. file-backed and evictable, and are not counted there).

Run (heavy; under the shared lock)::

    flock /tmp/sift-heavy.lock .venv/bin/python -m bench.bench_ann               # 1M vectors
    flock /tmp/sift-heavy.lock .venv/bin/python -m bench.bench_ann --vectors 50000

Example output line::

    ivf-pq  build 61.2 s  nbytes 64.1 MB (0.04 x flat)  rss +66 MB  recall@10 0.97  p50 1.9 ms  p99 4.0 ms
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from indexing.store import ann
from indexing.store.segment_vectors import BRUTE_FORCE_ROWS, DEAD_OVERFETCH_MAX, VectorSegment

K = 10


def rss_anon() -> int:
    """Anonymous resident bytes of this process (heap, FAISS structures; not memory-mapped files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def synthesize(base: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors blended from neighbouring base vectors plus noise (see the module docstring)."""
    neighbours = np.empty((len(base), 10), dtype=np.int64)
    for start in range(0, len(base), 4096):
        sims = base[start : start + 4096] @ base.T
        np.put_along_axis(sims, np.arange(start, start + len(sims))[:, None], -2.0, axis=1)
        neighbours[start : start + len(sims)] = np.argpartition(-sims, 10, axis=1)[:, :10]
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 65_536):
        m = min(65_536, n - start)
        i = rng.integers(0, len(base), m)
        j = neighbours[i, rng.integers(0, 10, m)]
        t = rng.uniform(0, 0.5, (m, 1)).astype(np.float32)
        e = rng.standard_normal((m, base.shape[1])).astype(np.float32) * (noise / np.sqrt(base.shape[1]))
        x = base[i] + t * (base[j] - base[i]) + e
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each query's true top-k ids found (ignoring -1 padding in the truth)."""
    hits = [len(set(f.tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum())) for f, t in zip(found, truth)]
    return float(np.mean(hits))


def latency_ms(seg: VectorSegment, queries: np.ndarray, **kw: np.ndarray) -> tuple[float, float]:
    """p50, p99 of single-query searches in ms."""
    times = []
    for q in queries:
        start = time.perf_counter()
        seg.search(q[None], K, **kw)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def exact_filtered(vectors: np.ndarray, ids: np.ndarray, allowed_mask: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-k ids among the allowed rows, by NumPy (independent of the segment code)."""
    rows = np.flatnonzero(allowed_mask)
    scores = queries @ vectors[rows].T
    top = np.argsort(-scores, axis=1)[:, :K]
    return ids[rows[top]]


def measure(kind: str, ids: np.ndarray, x: np.ndarray, queries: np.ndarray, args: argparse.Namespace,
            truth: np.ndarray, flat_bytes: int, filters: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_ann_", dir=args.tmp))
    try:
        start = time.perf_counter()
        seg = VectorSegment.build(ids, x, kind)
        build_s = time.perf_counter() - start
        seg.save(folder / kind)
        del seg
        gc.collect()
        before = rss_anon()
        seg = VectorSegment.load(folder / kind, x.shape[1])
        rss = rss_anon() - before
        _, found = seg.search(queries, K)
        lat = queries[: args.latency_queries]
        p50, p99 = latency_ms(seg, lat)
        ratio = seg.nbytes / flat_bytes if flat_bytes else 1.0
        print(f"{kind:7s} rows {len(ids):,}  build {build_s:.1f} s  nbytes {seg.nbytes / 1e6:.1f} MB"
              f" ({ratio:.3f} x flat)  rss +{rss / 1e6:.0f} MB  recall@10 {recall(found, truth):.4f}"
              f"  p50 {p50:.2f} ms  p99 {p99:.2f} ms",
              flush=True)
        for name, (allowed, ftruth) in filters.items():
            _, ffound = seg.search(queries[: len(ftruth)], K, allowed=allowed)
            fp50, fp99 = latency_ms(seg, lat, allowed=allowed)
            path = "brute force" if len(allowed) <= BRUTE_FORCE_ROWS else "selector"
            print(f"{kind:7s}   filter {name} ({len(allowed):,} ids, {path}): recall@10 {recall(ffound, ftruth):.4f}"
                  f"  p50 {fp50:.2f} ms  p99 {fp99:.2f} ms", flush=True)
        for count in (args.dead, 10 * args.dead):
            dead = ids[:: max(1, len(ids) // count)][:count]
            dp50, dp99 = latency_ms(seg, lat, dead=dead)
            _, dfound = seg.search(queries, K, dead=dead)
            assert not np.isin(dfound, dead).any(), "a tombstoned id was returned"
            how = "over-fetch" if kind == "flat" and count <= DEAD_OVERFETCH_MAX else "selector"
            print(f"{kind:7s}   dead {len(dead):,} ids ({how}): p50 {dp50:.2f} ms  p99 {dp99:.2f} ms", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def base_vectors(index: str) -> np.ndarray:
    """The real chunk vectors of an index, read through its Workspace."""
    from app.workspace import Workspace

    ws = Workspace(index)
    return ws.chunk_vectors([c.id for c in ws.chunks()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--dead", type=int, default=1000, help="tombstones for the dead-id latency check")
    parser.add_argument("--kinds", default="flat,hnsw,ivf-pq")
    parser.add_argument("--base", type=Path, default=None,
                        help=".npy of real base vectors (default: the chunk vectors of --index)")
    parser.add_argument("--index", default="data/index", help="index whose vectors seed the data (default data/index)")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the saved segments")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    base = (np.load(args.base) if args.base else base_vectors(args.index)).astype(np.float32)
    start = time.perf_counter()
    x = synthesize(base, args.vectors, args.noise, rng)
    queries = synthesize(base, args.queries, args.noise, rng)
    ids = (rng.permutation(args.vectors) * 3 + 1).astype(np.int64)
    print(f"data: {args.vectors:,} x {x.shape[1]} (noise {args.noise}), {args.queries} queries, "
          f"{time.perf_counter() - start:.1f} s; candidates re-scored per query: {ann.candidates(K)}", flush=True)
    flat = VectorSegment.build(ids, x, "flat")
    flat_bytes = flat.nbytes
    start = time.perf_counter()
    _, truth = flat.search(queries, K)
    print(f"exact ground truth (flat, batch of {args.queries}): {time.perf_counter() - start:.1f} s", flush=True)
    del flat
    gc.collect()
    filters = {}
    for name, frac in (("1%", 0.01), ("20%", 0.20)):
        mask = rng.random(args.vectors) < frac
        filters[name] = (ids[mask], exact_filtered(x, ids, mask, queries[:200]))
    for kind in args.kinds.split(","):
        measure(kind, ids, x, queries, args, truth, flat_bytes, filters)


if __name__ == "__main__":
    main()
