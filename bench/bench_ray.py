"""Ray engine benchmark: the same wiki summaries indexed locally, with Ray and 1 embedder, with Ray and 2.

Prints, measured in one run (runs interleaved, mean of ``--repeats``, each a full build into a new
index: load, chunk, embed, write):
- chunks/s of each build;
- the 2-worker ÷ 1-worker speed-up (the ceiling is 2.0 with one worker per core and nothing shared);
- Ray ÷ local for both, i.e. what the pipeline's overhead (actors loading the model, pickling,
  the driver's commits) costs against the local engine on the same machine.
The local Ray session is started once before the builds (its start-up is printed, not counted), as a
long-lived cluster would be; each Ray build still starts its own actor pool.

Usage: ``python bench/bench_ray.py [--docs 1000] [--repeats 2]`` (run it under the heavy-job lock:
``flock /tmp/sift-heavy.lock python bench/bench_ray.py``).
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
from indexing.engines.ray_engine import WORKERS_ENV, start_local_ray  # noqa: E402

RUNS = (("local", None), ("ray", 1), ("ray", 2))


def _subset(n: int, folder: Path) -> int:
    """The first ``n`` records of the wiki summaries, as one file; returns how many were written."""
    data = json.loads((fetch_corpus("wiki") / "summaries_en-us.json").read_text(encoding="utf-8"))
    keys = list(data)[:n]
    (folder / "summaries_en-us.json").write_text(json.dumps({k: data[k] for k in keys}), encoding="utf-8")
    return len(keys)


def _build(index: Path, corpus: Path, engine: str, workers: int | None) -> tuple[float, int]:
    """Seconds and chunks of one full build."""
    if workers is not None:
        os.environ[WORKERS_ENV] = str(workers)
    started = time.perf_counter()
    report = Workspace(index).index([corpus], engine=engine)
    seconds = time.perf_counter() - started
    os.environ.pop(WORKERS_ENV, None)
    return seconds, report.chunks_embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="wiki records to index (default 1000)")
    parser.add_argument("--repeats", type=int, default=2, help="builds per engine, interleaved (default 2)")
    args = parser.parse_args()
    import ray

    started = time.perf_counter()
    start_local_ray(os.cpu_count())  # as `sift index --engine ray` starts it
    ray_start = time.perf_counter() - started
    Workspace(Path(tempfile.gettempdir()) / "unused").embed(["warm up the driver's model"] * 64)
    times: dict[str, list[float]] = {}
    chunks: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        docs = _subset(args.docs, corpus)
        for repeat in range(args.repeats):
            for engine, workers in RUNS:
                name = engine if workers is None else f"{engine}-{workers}"
                seconds, n = _build(Path(tmp) / f"{name}-{repeat}", corpus, engine, workers)
                times.setdefault(name, []).append(seconds)
                chunks[name] = n
                print(f"  {name:8s} run {repeat + 1}: {seconds:7.2f} s, {n} chunks", flush=True)
    ray.shutdown()
    assert len(set(chunks.values())) == 1, f"engines embedded different chunk counts: {chunks}"
    rate = {name: chunks[name] / (sum(t) / len(t)) for name, t in times.items()}
    print(f"documents {docs}, chunks {chunks['local']}, CPUs {os.cpu_count()}, "
          f"local Ray start-up {ray_start:.1f} s (not counted)")
    for name, t in times.items():
        print(f"{name:8s} {sum(t) / len(t):8.2f} s  {rate[name]:8.1f} chunks/s  (mean of {len(t)})")
    print(f"ratio ray 2 workers / 1 worker   {rate['ray-2'] / rate['ray-1']:6.3f}  (ceiling 2.0)")
    print(f"ratio ray 1 worker / local       {rate['ray-1'] / rate['local']:6.3f}")
    print(f"ratio ray 2 workers / local      {rate['ray-2'] / rate['local']:6.3f}")


if __name__ == "__main__":
    main()
