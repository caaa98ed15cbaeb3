"""Indexing benchmark: pipeline throughput vs raw ``model.encode`` on the same chunks, and re-sync cost.

Prints, measured in one run:
- pipeline chunks/s ÷ raw encode chunks/s (target ≥ 0.90): loading, chunking, embedding and the
  crash-safe write, against the model alone on exactly the texts the pipeline embedded (the
  chunks and the documents' lead sentences, see ``indexing.lead``); and the same against the
  chunks alone, which is what lead vectors cost on top;
- re-sync of the unchanged corpus ÷ full build time (target ≤ 0.02);
- model FLOP/s against its theoretical cost (MiniLM-L6: ~22 MFLOP per token, 2 x parameters), and that
  against a float32 matmul's GFLOP/s measured in the same run (the physical ceiling).

"raw encode" is the embedder's own runtime (``Embedder.encode``: ONNX Runtime unless
``SIFT_EMBED_RUNTIME=torch``), the one the pipeline uses.

Usage: ``python bench/bench_index.py [--docs 2000] [--no-leads] [--vs txtai]`` (``--vs txtai``: see
:mod:`bench.vs_txtai`)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.corpora import fetch_corpus  # noqa: E402
from app.workspace import Workspace  # noqa: E402
from bench.bench_embed import FLOP_PER_TOKEN, matmul_gflops  # noqa: E402
from indexing.chunker import ChunkerConfig  # noqa: E402
from indexing.embedder import Embedder  # noqa: E402
from indexing.lead import lead_text  # noqa: E402
from indexing.sync import Syncer  # noqa: E402


def _subset(n: int, folder: Path) -> None:
    data = json.loads((fetch_corpus("wiki") / "summaries_en-us.json").read_text(encoding="utf-8"))
    keys = sorted(data)[:n]
    (folder / "summaries_en-us.json").write_text(json.dumps({k: data[k] for k in keys}), encoding="utf-8")


def _raw_seconds(embedder: Embedder, texts: list[str]) -> float:
    if not texts:
        return 0.0
    started = time.perf_counter()
    embedder.encode(texts)
    return time.perf_counter() - started


def embedded_texts(index: Path, syncer: Syncer, leads: bool = True) -> tuple[list[str], list[str]]:
    """What a build of ``index`` embedded: each chunk as the model read it, and the lead sentences."""
    ws = Workspace(index)
    texts = [syncer.embed_text(c.title, c.text) for c in ws.chunks()]
    docs = [ws.document(d.id) for d in ws.documents()] if leads else []
    return texts, [t for t in (lead_text(d.title, d.text) for d in docs if d is not None) if t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="wiki documents to index (default 2000)")
    parser.add_argument("--no-leads", action="store_true", help="build without lead vectors")
    parser.add_argument("--vs", choices=["txtai"], help="instead: sift index against txtai on the same documents")
    parser.add_argument("--rounds", type=int, default=2, help="with --vs: interleaved rounds, best kept (default 2)")
    args = parser.parse_args()
    if args.vs == "txtai":
        from bench.vs_txtai import compare

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "corpus").mkdir()
            _subset(args.docs, Path(tmp) / "corpus")
            compare(Path(tmp) / "corpus", rounds=max(1, args.rounds))
        return
    embedder = Embedder()
    embedder.encode(["warm up the model and its kernels"] * 64)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        _subset(args.docs, folder)
        # Alternate build / raw / build / raw so both see the same machine load (shared, noisy).
        builds, raw_chunks, raw_leads = [], [], []
        for run in range(2):
            index = Path(tmp) / f"index{run}"
            syncer = Syncer(index, embedder, ChunkerConfig(), lead_vectors=not args.no_leads)
            started = time.perf_counter()
            report = syncer.sync([folder])
            builds.append(time.perf_counter() - started)
            texts, leads = embedded_texts(index, syncer, leads=not args.no_leads)
            raw_chunks.append(_raw_seconds(embedder, texts))
            raw_leads.append(_raw_seconds(embedder, leads))
        started = time.perf_counter()
        again = syncer.sync([folder])
        resync = time.perf_counter() - started
        build = sum(builds) / len(builds)
        raw_c = sum(raw_chunks) / len(raw_chunks)
        raw_l = sum(raw_leads) / len(raw_leads)
        tokens = sum(min(embedder.count_tokens(t) + 2, embedder.max_seq_length) for t in texts)
    n = report.chunks_embedded
    pipeline = n / build
    print(f"documents {len(report.added)}, chunks {n}, lead sentences {report.leads_embedded}, chunk tokens {tokens}")
    print(f"full build        {build:8.2f} s   {pipeline:8.1f} chunks/s (load + chunk + embed + write, mean of 2)")
    print(f"raw model.encode  {raw_c:8.2f} s   {n / raw_c:8.1f} chunks/s (same chunk texts, mean of 2, interleaved)")
    print(f"  + lead sentences {raw_l:7.2f} s   ({len(leads)} texts)")
    print(f"re-sync unchanged {resync:8.3f} s   ({len(again.unchanged)} unchanged, {again.chunks_embedded} embedded)")
    print(f"ratio pipeline / raw encode of all it embeds   {pipeline / (n / (raw_c + raw_l)):6.3f}  (target >= 0.90)")
    print(f"ratio pipeline / raw encode of chunks alone    {pipeline / (n / raw_c):6.3f}  (lead vectors' cost in)")
    print(f"ratio re-sync / full build                     {resync / build:6.4f}  (target <= 0.02)")
    gflops = tokens * FLOP_PER_TOKEN / raw_c / 1e9
    peak = matmul_gflops()
    print(f"model throughput ~{gflops:.1f} GFLOP/s at ~22 MFLOP/token (MiniLM-L6, 2 x 22.7M params), "
          f"runtime {embedder.runtime}")
    print(f"float32 matmul {peak:.0f} GFLOP/s: model / matmul ceiling {gflops / peak:6.3f}")


if __name__ == "__main__":
    main()
