"""Write cost against index size: segments make a write cost what it adds, not what the index holds.

Vectors are precomputed (embedding is excluded; it is measured by bench_index.py): the default index's real
chunk and lead vectors plus Gaussian noise, with texts drawn from its chunks' sentences. Measured in one run:

- append: 1,000 chunks added to an empty index vs to an index of ``--chunks`` (target ratio <= 3);
- delete: 1,000 chunks deleted from a 2,000-chunk index vs from the big one (target ratio <= 3);
- build: ``--chunks`` written in ``--appends`` batches vs in one bulk batch (target ratio <= 1.5);
- and, on the big index, dense and BM25 query latency (p50/p99) and the segments it holds.

The subject is the store's write path, so this benchmark drives the store's public write API (``Store.batch``,
the one the indexer uses), not the Workspace's ``index`` verb, which would embed.

Usage: ``python bench/bench_write.py [--chunks 1000000] [--appends 50] [--vector-index flat]``
(``--chunks 100000`` for a quick run).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.workspace import Workspace  # noqa: E402
from indexing.datatypes import Chunk, Document  # noqa: E402
from indexing.manifest import VECTOR_INDEXES, Manifest  # noqa: E402
from indexing.store import Store  # noqa: E402

CHUNKS_PER_DOC = 10
NOISE = 0.35  # Gaussian noise per vector, as a fraction of its (unit) length


class Corpus:
    """Synthetic documents of ``CHUNKS_PER_DOC`` chunks: real vectors plus noise, real sentences."""

    def __init__(self, index: str, seed: int = 0) -> None:
        ws = Workspace(index)
        chunks = ws.chunks()
        ids = [c.id for c in chunks]
        self.base = ws.chunk_vectors(ids)
        self.sentences = [s for c in chunks for s in re.split(r"(?<=[.!?])\s+", c.text) if len(s) > 20]
        self.rng = np.random.default_rng(seed)
        self.dimension = self.base.shape[1]
        self.next_doc = 0

    def vectors(self, n: int) -> np.ndarray:
        rows = self.base[self.rng.integers(0, len(self.base), n)]
        noisy = rows + self.rng.normal(scale=NOISE / np.sqrt(self.dimension), size=rows.shape)
        return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)

    def docs(self, chunks: int) -> list[tuple[Document, list[Chunk], np.ndarray]]:
        out = []
        vectors = self.vectors(chunks)
        picks = self.rng.integers(0, len(self.sentences), chunks)
        for start in range(0, chunks, CHUNKS_PER_DOC):
            doc_id = f"d{self.next_doc}"
            self.next_doc += 1
            texts = [self.sentences[p] for p in picks[start : start + CHUNKS_PER_DOC]]
            offsets = np.cumsum([0] + [len(t) + 1 for t in texts])
            doc = Document(doc_id, f"/bench/{doc_id}", f"Doc {doc_id}", " ".join(texts))
            parts = [Chunk(doc_id, i, t, int(offsets[i]), int(offsets[i]) + len(t)) for i, t in enumerate(texts)]
            out.append((doc, parts, vectors[start : start + len(texts)]))
        return out


def write(store: Store, docs: list[tuple[Document, list[Chunk], np.ndarray]]) -> float:
    """One write batch adding ``docs`` (one file each); seconds."""
    started = time.perf_counter()
    with store.batch() as batch:
        for doc, chunks, vectors in docs:
            batch.upsert_file(doc.source, doc.id, 1)
            batch.add_document(doc, doc.source, chunks, vectors)
    return time.perf_counter() - started


def delete(store: Store, sources: list[str]) -> float:
    started = time.perf_counter()
    with store.batch() as batch:
        for source in sources:
            batch.remove_file(source)
    return time.perf_counter() - started


def fresh(root: Path, name: str, corpus: Corpus, policy: str) -> Store:
    manifest = Manifest(embedding_model="bench", dimension=corpus.dimension, chunk_size=200, chunk_overlap=32,
                        vector_index=policy)
    return Store.create(root / name, manifest)


def percentiles(samples: list[float]) -> str:
    arr = np.asarray(samples) * 1000
    return f"p50 {np.percentile(arr, 50):.1f} ms, p99 {np.percentile(arr, 99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=os.environ.get("SIFT_INDEX", "data/index"), help="source of real vectors")
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1_000, help="chunks per measured append/delete")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved bulk / appended builds (best of)")
    parser.add_argument("--vector-index", choices=VECTOR_INDEXES, default="flat")
    parser.add_argument("--workdir", help="where the indexes are written (default: a temporary folder)")
    args = parser.parse_args()
    corpus = Corpus(args.index)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="sift-bench-write-"))
    print(f"{args.chunks} chunks, {args.appends} appends, vector index {args.vector_index}, in {root}")
    try:
        small_add = []
        for n in range(args.repeats):
            small_add.append(write(fresh(root, f"empty-{n}", corpus, args.vector_index), corpus.docs(args.batch)))
        small = fresh(root, "small", corpus, args.vector_index)
        write(small, corpus.docs(2 * args.batch))
        small_docs = sorted(small.files())
        half = len(small_docs) // 2
        small_del = [delete(small, small_docs[:half])]

        big = fresh(root, "bulk", corpus, args.vector_index)
        bulk = write(big, corpus.docs(args.chunks))
        print(f"bulk build: {bulk:.1f} s for {args.chunks} chunks in one batch")
        big_add = [write(big, corpus.docs(args.batch)) for _ in range(args.repeats)]
        files = sorted(big.files())
        step = args.batch // CHUNKS_PER_DOC
        big_del = [delete(big, files[n * step : (n + 1) * step]) for n in range(args.repeats)]
        queries = corpus.vectors(200)
        dense = []
        for q in queries:
            started = time.perf_counter()
            big.search_dense(q[None, :], 10)
            dense.append(time.perf_counter() - started)
        lexical = []
        for text in corpus.sentences[:200]:
            started = time.perf_counter()
            big.lexical().search(text, 10)
            lexical.append(time.perf_counter() - started)
        segments = big.segments()
        big.close()
        shutil.rmtree(root / "bulk", ignore_errors=True)

        per = args.chunks // args.appends
        builds, by_appends_runs = [bulk], []
        for run in range(args.rounds):  # interleaved with bulk builds: the machine's load drifts
            appended = fresh(root, f"appended-{run}", corpus, args.vector_index)
            started = time.perf_counter()
            for _ in range(args.appends):
                write(appended, corpus.docs(per))
            by_appends_runs.append(time.perf_counter() - started)
            appended_segments = appended.segments()
            appended.close()
            shutil.rmtree(root / f"appended-{run}", ignore_errors=True)
            if run + 1 < args.rounds:
                again = fresh(root, f"bulk-{run}", corpus, args.vector_index)
                builds.append(write(again, corpus.docs(args.chunks)))
                again.close()
                shutil.rmtree(root / f"bulk-{run}", ignore_errors=True)
        bulk, by_appends = min(builds), min(by_appends_runs)

        add_small, add_big = statistics.median(small_add), statistics.median(big_add)
        del_small, del_big = statistics.median(small_del), statistics.median(big_del)
        print(f"append {args.batch}: empty index {add_small * 1000:.0f} ms, {args.chunks}-chunk index "
              f"{add_big * 1000:.0f} ms (median of {args.repeats}): ratio {add_big / add_small:.2f} (target <= 3)")
        print(f"delete {args.batch}: {2 * args.batch}-chunk index {del_small * 1000:.0f} ms, {args.chunks}-chunk "
              f"index {del_big * 1000:.0f} ms: ratio {del_big / del_small:.2f} (target <= 3)")
        print(f"build {args.chunks}: {args.appends} appends {by_appends:.1f} s, one bulk batch {bulk:.1f} s "
              f"(best of {args.rounds}, interleaved): ratio {by_appends / bulk:.2f} (target <= 1.5)")
        print(f"after {args.appends} appends: {len(appended_segments)} segments "
              f"({', '.join(str(s['vectors']) for s in appended_segments)} vectors)")
        print(f"big index ({len(segments)} segments, kinds {sorted({s['kind'] for s in segments})}, "
              f"{sum(s['memory_bytes'] for s in segments) / 2**20:.0f} MiB resident): "
              f"dense {percentiles(dense)}; BM25 {percentiles(lexical)}")
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
