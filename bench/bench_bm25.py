"""BM25 over immutable segments at scale: build, memory, query latency, adding a segment, 1 vs many segments.

Chunks are synthesized by sampling real sentences (a title line, then sentences up to a real chunk's length),
so term statistics look like the wiki index's. Baselines measured in the same run: building the 1,000-row
segment alone (what adding one should cost), rebuilding everything (what a write cost when the index was one
bm25s index), and that bm25s index's own build and query latency on the same chunks (``--no-baseline`` skips it).

Usage: ``python bench/bench_bm25.py [--chunks 1000000] [--texts chunks.jsonl] [--queries 200] [--segments 50]``
(``--texts``: JSON lines of {"title", "text"}; default: the packaged wiki corpus.)
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing.store.lexical import K1, B, LexicalIndex, LexicalSegment  # noqa: E402


def _rss() -> int:
    """Resident set size of this process in bytes (Linux, glibc), after handing freed heap back to the OS.

    Without the trim, the build's freed temporaries (bm25s's token lists) would still count as resident.
    """
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _load(path: str | None) -> list[tuple[str, str]]:
    if path:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(r["title"], r["text"]) for r in rows]
    from app.corpora import fetch_corpus

    articles = json.loads((fetch_corpus("wiki") / "summaries_en-us.json").read_text(encoding="utf-8"))
    return [(a["title"], a["extract"]) for a in articles.values()]


def synthesize(source: list[tuple[str, str]], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` chunks: a real title line, then random real sentences until a real chunk's length is reached."""
    sentences = [s for _, text in source for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 20]
    titles, lengths = [t for t, _ in source], np.array([len(text) for _, text in source])
    picks = rng.integers(0, len(sentences), size=(n, 64))
    out = []
    for i, (title, target) in enumerate(zip(rng.choice(titles, n), rng.choice(lengths, n))):
        parts, size, j = [], 0, 0
        while size < target and j < 64:
            parts.append(sentences[picks[i, j]])
            size += len(parts[-1]) + 1
            j += 1
        out.append(f"{title}\n{' '.join(parts)}")
    return out


def make_queries(source: list[tuple[str, str]], n: int, rng: np.random.Generator) -> list[str]:
    """Half real titles, half real sentences."""
    titles = [source[i][0] for i in rng.choice(len(source), n // 2, replace=False)]
    sentences = [s for _, text in source for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 20]
    return titles + [sentences[i] for i in rng.choice(len(sentences), n - n // 2, replace=False)]


def latency(index: LexicalIndex, queries: list[str], k: int) -> tuple[float, float, list[list[tuple[int, float]]]]:
    """(p50 ms, p99 ms, results) over ``queries`` after a short warm-up."""
    for q in queries[:10]:
        index.search(q, k)
    times, results = [], []
    for q in queries:
        started = time.perf_counter()
        results.append(index.search(q, k))
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), results


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    """(median seconds, last result) of ``repeat`` calls."""
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--texts", default=None, help="JSON lines of {title, text} (default: the wiki corpus)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--add", type=int, default=1_000, help="rows of the segment a write adds")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the single bm25s index baseline")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    source = _load(args.texts)
    texts = synthesize(source, args.chunks + args.add, rng)
    texts, extra = texts[: args.chunks], texts[args.chunks :]
    ids, extra_ids = list(range(args.chunks)), list(range(args.chunks, args.chunks + args.add))
    queries = make_queries(source, args.queries, rng)
    words = np.mean([len(t.split()) for t in texts[:10_000]])
    print(f"{args.chunks:,} synthetic chunks (~{words:.0f} words each) from {len(source):,} real texts; "
          f"{len(queries)} queries (half titles, half sentences); k={args.k}, k1={K1}, b={B}", flush=True)

    gc.collect()
    rss0, peak0 = _rss(), _peak()
    build_s, seg = timed(lambda: LexicalSegment.build(ids, texts))
    gc.collect()
    one = LexicalIndex([seg])
    print(f"build 1 segment: {build_s:.1f} s ({args.chunks / build_s:,.0f} chunks/s); {len(seg.terms):,} terms, "
          f"{len(seg.tf):,} postings; nbytes {_mb(one.nbytes)}, RSS delta {_mb(_rss() - rss0)}, "
          f"peak RSS delta {_mb(max(_peak() - peak0, 0))}", flush=True)

    p50, p99, ref = latency(one, queries, args.k)
    print(f"search, 1 segment: p50 {p50:.2f} ms, p99 {p99:.2f} ms", flush=True)

    alone, added, killed = [], [], []
    for _ in range(7):  # interleaved, so both see the same machine load
        alone.append(timed(lambda: LexicalSegment.build(extra_ids, extra))[0])
        started = time.perf_counter()
        grown = LexicalIndex((*one.segments, LexicalSegment.build(extra_ids, extra)), one.dead)
        added.append(time.perf_counter() - started)
        started = time.perf_counter()
        LexicalIndex(grown.segments, np.union1d(grown.dead, ids[:1000]))
        killed.append(time.perf_counter() - started)
    alone_s, add_s, kill_s = (float(np.median(t)) for t in (alone, added, killed))
    print(f"add a {args.add:,}-row segment to the {args.chunks:,}-row index: {add_s * 1000:.1f} ms vs building it "
          f"alone {alone_s * 1000:.1f} ms = {add_s / alone_s:.2f}x; a full rebuild (the old write path) costs "
          f"{build_s / add_s:,.0f}x more; tombstoning 1,000 ids: {kill_s * 1000:.2f} ms", flush=True)
    assert [c for c, _ in grown.search(extra[0].split("\n")[1], 3)]  # the new rows are searchable
    grown = None

    bounds = np.linspace(0, args.chunks, args.segments + 1).astype(int)
    many_s, many = timed(lambda: LexicalIndex([LexicalSegment.build(ids[a:b], texts[a:b])
                                               for a, b in zip(bounds, bounds[1:])]))
    m50, m99, got = latency(many, queries, args.k)
    same = all([c for c, _ in a] == [c for c, _ in b] and np.allclose([s for _, s in a], [s for _, s in b])
               for a, b in zip(got, ref))
    print(f"search, {args.segments} segments of the same rows: p50 {m50:.2f} ms, p99 {m99:.2f} ms "
          f"= {m50 / p50:.2f}x / {m99 / p99:.2f}x the 1-segment latency; same results: {same}; "
          f"built in {many_s:.1f} s, nbytes {_mb(many.nbytes)}", flush=True)
    merge_s, merged = timed(lambda: LexicalSegment.merge(many.segments, drop=np.arange(0, args.chunks, 10)))
    print(f"merge {args.segments} segments into 1, dropping 10% of rows ({merged.rows:,} left): {merge_s:.1f} s "
          f"({merge_s / build_s:.2f}x the 1-segment build; no tokenizing)", flush=True)
    many = merged = None  # noqa: F841  (free them before the baseline)
    gc.collect()
    if not args.no_baseline:
        baseline(texts, queries, args.k, build_s, one.nbytes, p50, p99)


def baseline(texts: list[str], queries: list[str], k: int, build_s: float, nbytes: int, p50: float, p99: float) -> None:
    """The previous design: one bm25s index over every chunk, rebuilt on each write; scores every row per query."""
    import bm25s
    import Stemmer

    stem = Stemmer.Stemmer("english").stemWords

    def build() -> bm25s.BM25:
        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
        return retriever

    gc.collect()
    rss0 = _rss()
    old_s, retriever = timed(build)
    rss = _rss() - rss0
    held = sum(retriever.scores[name].nbytes for name in ("data", "indices", "indptr"))
    times = []
    for i, q in enumerate(queries[:10] + queries):
        terms = [t for t in bm25s.tokenize(q, stopwords="en", stemmer=stem, return_ids=False, show_progress=False)[0]
                 if t in retriever.vocab_dict]
        started = time.perf_counter()
        if terms:
            retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        if i >= 10:
            times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    b50, b99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    print(f"baseline, one bm25s index: build {old_s:.1f} s ({old_s / build_s:.2f}x ours), score arrays "
          f"{_mb(held)} (ours {nbytes / held:.2f}x, vocabulary included), RSS delta {_mb(rss)}; "
          f"search p50 {b50:.2f} ms, p99 {b99:.2f} ms (ours: {p50 / b50:.2f}x / {p99 / b99:.2f}x of it)", flush=True)


if __name__ == "__main__":
    main()
