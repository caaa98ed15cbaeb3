"""Fault injection: SIGKILL `sift index` at >= 50 points and check every kill left the index whole.

Kills at every named point of the write path (1st, 2nd and 3rd passage) and at delays spread over an
uninterrupted sync's duration; after each: `sift doctor` clean, a search answers, and a re-run
converges to exactly the uninterrupted result (documents, chunk texts, offsets, vectors within 1e-6).
See :mod:`bench.fault_harness`.

Usage: ``python bench/bench_faults.py [--timed 30] [--work /tmp/sift-faults]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.fault_harness import hook_plan, run_kills, scenario, time_plan  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", type=int, default=30, help="kills at random delays (default 30)")
    parser.add_argument("--counts", type=int, default=3, help="passages of each write-path point to kill at")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="sift-faults-"))
    started = time.perf_counter()
    prepared = scenario(work)
    seconds = prepared[-1]
    print(f"uninterrupted sync A -> B: {seconds:.1f} s (CLI start-up included)")
    results = run_kills(work, hook_plan(args.counts) + time_plan(seconds, args.timed), prepared)
    killed = [r for r in results if r.ended == "killed"]
    for r in results:
        status = "ok" if r.ok else f"FAILED {r.converged} doctor={r.doctor_clean} search={r.search_ok}"
        print(f"  {r.how:<28} {r.ended:<8} {status}")
    survived = sum(r.ok for r in killed)
    print(f"kills survived {survived} / {len(killed)} (runs {len(results)}; {len(results) - len(killed)} "
          f"finished before their kill point, all {'ok' if all(r.ok for r in results) else 'NOT ok'}); "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
