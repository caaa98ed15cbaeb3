"""sift against txtai indexing the same wiki summaries with the same packaged MiniLM (``bench_index.py --vs txtai``).

Both run in this one process's lifetime, interleaved, best of ``rounds``:
- txtai: ``Embeddings(path=<packaged MiniLM>, content=True, hybrid=True).index(rows)`` in-process (dense +
  BM25 + stored text, the closest it has to what sift builds), model load included;
- sift: ``sift index FOLDER --index NEW`` as a user runs it, a child process, CLI start-up and model load
  included; and the same with ``--no-leads`` (txtai has no lead vectors);
- the CLI's start-up alone: ``sift index`` on a one-document folder.
Prints the seconds and sift ÷ txtai (the target is <= 0.67: 1.5x txtai's speed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rows(folder: Path) -> list[tuple[str, str, None]]:
    data: dict[str, Any] = json.loads((folder / "summaries_en-us.json").read_text(encoding="utf-8"))
    return [(key, str(entry.get("extract", "")), None) for key, entry in data.items() if entry.get("extract")]


def _txtai_seconds(folder: Path, model: str) -> float:
    from txtai import Embeddings  # a bench-only dependency: pip install txtai

    started = time.perf_counter()
    embeddings = Embeddings(path=model, content=True, hybrid=True)
    embeddings.index(_rows(folder))
    seconds = time.perf_counter() - started
    assert embeddings.count() > 0
    return seconds


def _sift_seconds(folder: Path, *extra: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([str(ROOT / ".venv/bin/sift"), "index", str(folder), "--index", f"{tmp}/idx", *extra],
                              capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sift index failed: {done.stderr[-500:]}")
    return seconds


def compare(folder: Path, rounds: int = 2) -> None:
    """Run the comparison on the wiki subset in ``folder`` and print it."""
    from indexing.models import DEFAULT_MODEL, resolve_embedding_model

    model = resolve_embedding_model(DEFAULT_MODEL).location
    one = folder.parent / "one"
    one.mkdir(exist_ok=True)
    (one / "note.md").write_text("# One\n\nA single short document, to time the CLI's start-up.\n")
    times: dict[str, list[float]] = {"txtai": [], "sift": [], "sift --no-leads": [], "sift start-up": []}
    for _ in range(rounds):  # interleaved, so each sees the same machine load
        times["txtai"].append(_txtai_seconds(folder, model))
        times["sift"].append(_sift_seconds(folder))
        times["sift --no-leads"].append(_sift_seconds(folder, "--no-leads"))
        times["sift start-up"].append(_sift_seconds(one))
    best = {name: min(values) for name, values in times.items()}
    print(f"{len(_rows(folder))} summaries, same packaged MiniLM, best of {rounds}:")
    for name, seconds in best.items():
        print(f"  {name:<16} {seconds:6.1f} s")
    for name in ("sift", "sift --no-leads"):
        print(f"{name} / txtai = {best[name] / best['txtai']:.2f} (target <= 0.67)")
    print(f"sift start-up share of its run: {best['sift start-up'] / best['sift']:.2f}")
    sys.stdout.flush()
