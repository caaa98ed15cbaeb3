"""sift against txtai indexing the same wiki summaries with the same packaged MiniLM (``bench_index.py --vs txtai``).

Both run in this one process's lifetime, interleaved, best of ``rounds``:
- txtai: ``Embeddings(path=<packaged MiniLM>, content=True, hybrid=True).index(rows)`` in-process (dense +
  BM25 + stored text, the closest it has to what sift builds), model load included;
- sift: ``sift index FOLDER --index NEW`` as a user runs it (its defaults), a child process, CLI start-up and
  model load included; the same with each embedding weight named (``--quantize none``: fp32; ``--quantize
  int8``: int8 weights, fewer FLOPs than the fp32 ceiling allows, see bench_embed.py); and ``--no-leads``
  (txtai has no lead vectors);
- the CLI's start-up alone: ``sift index`` on a one-document folder;
- once, ``sift index`` with an empty ONNX cache (a first run: the graph is exported from PyTorch).
Prints the seconds and sift ÷ txtai (the target is <= 0.67: 1.5x txtai's speed), and sift against the
physical ceiling: the tokens it embedded x ~22 MFLOP/token at a float32 matmul's GFLOP/s measured here.
Beside the wall-clock ratio, the CPU-seconds ratio (this process's CPU time for txtai, the child's for sift,
best of ``rounds``): on a machine other work shares, wall time swings with that work, CPU time much less.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rows(folder: Path) -> list[tuple[str, str, None]]:
    data: dict[str, Any] = json.loads((folder / "summaries_en-us.json").read_text(encoding="utf-8"))
    return [(key, str(entry.get("extract", "")), None) for key, entry in data.items() if entry.get("extract")]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _txtai_seconds(folder: Path, model: str) -> tuple[float, float]:
    """Wall and CPU seconds of a txtai index of ``folder``."""
    from txtai import Embeddings  # a bench-only dependency: pip install txtai

    started, cpu = time.perf_counter(), time.process_time()
    embeddings = Embeddings(path=model, content=True, hybrid=True)
    embeddings.index(_rows(folder))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert embeddings.count() > 0
    return seconds, cpu


def _sift_seconds(folder: Path, index: Path, *extra: str, data: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``sift index folder --index index *extra`` in a child process."""
    shutil.rmtree(index, ignore_errors=True)
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"} | ({"SIFT_DATA": str(data)} if data else {})
    if "PYTHONPATH" in os.environ:  # the code under test, e.g. a checkout's
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([str(ROOT / ".venv/bin/sift"), "index", str(folder), "--index", str(index), *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"sift index failed: {done.stderr[-500:]}")
    return seconds, cpu


def _ceiling_seconds(index: Path) -> tuple[float, int, float]:
    """Seconds a build of ``index`` would take at the matmul ceiling, its tokens, and that GFLOP/s."""
    from bench.bench_embed import FLOP_PER_TOKEN, matmul_gflops
    from bench.bench_index import embedded_texts
    from indexing.chunker import ChunkerConfig
    from indexing.embedder import Embedder
    from indexing.sync import Syncer

    embedder = Embedder()
    chunks, leads = embedded_texts(index, Syncer(index, embedder, ChunkerConfig()))
    tokens = sum(min(n + 2, embedder.max_seq_length) for n in embedder.count_tokens_many(chunks + leads))
    gflops = matmul_gflops()
    return tokens * FLOP_PER_TOKEN / (gflops * 1e9), tokens, gflops


def compare(folder: Path, rounds: int = 2) -> None:
    """Run the comparison on the wiki subset in ``folder`` and print it."""
    from indexing.models import DEFAULT_MODEL, resolve_embedding_model

    model = resolve_embedding_model(DEFAULT_MODEL).location
    work = folder.parent
    one = work / "one"
    one.mkdir(exist_ok=True)
    (one / "note.md").write_text("# One\n\nA single short document, to time the CLI's start-up.\n")
    variants = {"sift": (), "sift --quantize none": ("--quantize", "none"),
                "sift --quantize int8": ("--quantize", "int8"), "sift --no-leads": ("--no-leads",)}
    times: dict[str, list[tuple[float, float]]] = {"txtai": [], **{name: [] for name in variants},
                                                   "sift start-up": []}
    for _ in range(rounds):  # interleaved, so each sees the same machine load
        times["txtai"].append(_txtai_seconds(folder, model))
        for number, (name, extra) in enumerate(variants.items()):
            times[name].append(_sift_seconds(folder, work / f"idx-{number}", *extra))
        times["sift start-up"].append(_sift_seconds(one, work / "idx-one"))
    cold, _ = _sift_seconds(folder, work / "idx-cold", data=work / "empty-data")
    best = {name: min(wall for wall, _ in values) for name, values in times.items()}
    best_cpu = {name: min(cpu for _, cpu in values) for name, values in times.items()}
    print(f"{len(_rows(folder))} summaries, same packaged MiniLM, best of {rounds} (wall; CPU):")
    for name, seconds in best.items():
        print(f"  {name:<20} {seconds:6.1f} s; {best_cpu[name]:6.1f} CPU-s")
    print(f"  sift, cold ONNX cache (first run ever: exports the graph) {cold:6.1f} s (once)")
    for name in variants:
        print(f"{name} / txtai = {best[name] / best['txtai']:.2f} (target <= 0.67); "
              f"CPU-seconds ratio {best_cpu[name] / best_cpu['txtai']:.2f}")
    print(f"sift start-up share of its run: {best['sift start-up'] / best['sift']:.2f}")
    ideal, tokens, gflops = _ceiling_seconds(work / "idx-0")
    print(f"ceiling: {tokens} tokens x 22 MFLOP at {gflops:.0f} GFLOP/s (float32 matmul, measured now) = "
          f"{ideal:.1f} s; ceiling / sift = {ideal / best['sift']:.2f}")
    sys.stdout.flush()
