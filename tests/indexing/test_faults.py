"""Fault injection, quick version: `sift index` SIGKILLed at 10 points; nothing stored is lost.

The full run (>= 50 kills) is ``python bench/bench_faults.py``; both use :mod:`bench.fault_harness`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.fault_harness import run_kills, scenario, time_plan  # noqa: E402

QUICK_HOOKS = [
    ("sync.after_embed:1", "sync.after_embed:1", None),
    ("batch.after_sql:2", "batch.after_sql:2", None),
    ("commit.after_vectors:1", "commit.after_vectors:1", None),
    ("commit.after_bm25:2", "commit.after_bm25:2", None),
    ("commit.before_sql:1", "commit.before_sql:1", None),
    ("commit.after_sql:2", "commit.after_sql:2", None),
    ("atomic.before_rename:1", "atomic.before_rename:1", None),
    ("atomic.before_rename:4", "atomic.before_rename:4", None),
]


@pytest.mark.slow
def test_ten_kills_leave_the_index_whole_and_convergent(tmp_path: Path) -> None:
    prepared = scenario(tmp_path)
    results = run_kills(tmp_path, QUICK_HOOKS + time_plan(prepared[-1], 2, seed=1), prepared)
    hooked = [r for r in results if r.how in {h for h, _, _ in QUICK_HOOKS}]
    assert all(r.ended == "killed" for r in hooked), [(r.how, r.ended) for r in hooked]
    for r in results:
        assert r.doctor_clean, f"{r.how}: sift doctor found damage"
        assert r.search_ok, f"{r.how}: search failed after the kill"
        assert r.converged == [], f"{r.how}: the re-run did not converge: {r.converged}"
