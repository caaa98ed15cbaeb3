"""Kill `sift index` at many points and prove nothing stored is lost: the machinery of bench_faults and its test.

One scenario: an index built from corpus version A is synced to version B (files changed, added and
deleted) by ``sift index`` in a child process that is SIGKILLed — at a named point in the write path
(``SIFT_FAULT``, see :mod:`indexing.faults`) or after a delay. After each kill: ``sift doctor`` finds no
damage, a search answers, and re-running the sync converges to the index an uninterrupted sync gives:
the same documents, chunk texts, offsets and vectors (within ``ATOL``), compared by document and chunk
ordinal (chunk ids are not kept across runs).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-6
GROUP_CHUNKS = "8"  # small write groups, so a sync of a small corpus makes several batches to kill between

WORDS = ("river mountain harbour bridge library museum forest castle market garden tower valley island canal "
         "village station lantern orchard meadow quarry").split()


def write_corpus(folder: Path, version: str, n: int = 24) -> Path:
    """Version "A": files 0..n-5; version "B": files 0..n-1 with every third changed and the first two gone."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(7)
    for i in range(n):
        if version == "A" and i >= n - 4:
            continue
        if version == "B" and i < 2:
            continue
        words = [rng.choice(WORDS) for _ in range(120)]
        if version == "B" and i % 3 == 0:
            words = words[::-1] + ["revised"]
        text = f"# Note {i}\n\nThe {WORDS[i % len(WORDS)]} of note {i}. " + " ".join(words) + ".\n"
        (folder / f"note{i:02d}.md").write_text(text, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class IndexState:
    """What an index holds, keyed so two builds compare: documents, chunks by (doc, ordinal), vectors."""

    documents: dict[str, str]  # id → hash
    chunks: dict[tuple[str, int], tuple[str, int, int]]  # (doc, ordinal) → (text, start, end)
    vectors: dict[tuple[str, int], np.ndarray]
    leads: int

    def differences(self, other: IndexState) -> list[str]:
        """What differs from ``other`` (empty when the same)."""
        out = []
        if self.documents != other.documents:
            out.append(f"documents differ: {sorted(set(self.documents) ^ set(other.documents))[:5]}")
        if self.chunks != other.chunks:
            out.append("chunk texts or offsets differ")
        if self.leads != other.leads:
            out.append(f"lead vectors {self.leads} vs {other.leads}")
        if set(self.vectors) != set(other.vectors):
            out.append("vector keys differ")
        else:
            worst = max((float(np.abs(v - other.vectors[k]).max()) for k, v in self.vectors.items()), default=0.0)
            if worst > ATOL:
                out.append(f"vectors differ by up to {worst:.2e}")
        return out


def read_state(index: Path) -> IndexState:
    """Read an index through the Workspace (the one door)."""
    from app.workspace import Workspace

    ws = Workspace(index)
    records = ws.chunks()
    docs = {d.id: d.hash for d in ws.documents()}
    by_id = {r.id: (r.doc_id, r.ordinal) for r in records}
    chunks = {(r.doc_id, r.ordinal): (r.text, r.start, r.end) for r in records}
    ids = list(by_id)
    vectors = dict(zip((by_id[i] for i in ids), ws.chunk_vectors(ids), strict=True))
    return IndexState(docs, chunks, vectors, ws.info()["lead_vectors"])


def sift(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the sift CLI in a child process (the suite's generator and offline settings)."""
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_GROUP_CHUNKS": GROUP_CHUNKS, **(env or {})}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=ROOT)


def killed_sync(corpus: Path, index: Path, *, fault: str | None = None, delay: float | None = None) -> str:
    """Run ``sift index CORPUS`` and kill it at ``fault`` or after ``delay`` s; returns how it ended."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_GROUP_CHUNKS": GROUP_CHUNKS}
    if fault:
        env["SIFT_FAULT"] = fault
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(corpus), "--index", str(index)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        if delay is not None:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    return "killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}"


@dataclass
class KillResult:
    """One kill and what the checks found after it."""

    how: str
    ended: str
    doctor_clean: bool
    search_ok: bool
    converged: list[str]

    @property
    def ok(self) -> bool:
        return self.doctor_clean and self.search_ok and not self.converged


def check_after_kill(corpus_b: Path, index: Path, reference: IndexState) -> tuple[bool, bool, list[str]]:
    """Doctor clean?  A search answers?  Does a re-run converge to ``reference``?"""
    from app.workspace import Workspace

    doctor = Workspace(index).doctor()
    try:
        search_ok = isinstance(Workspace(index).search("river harbour", k=3, mode="bm25"), list)
    except Exception:  # noqa: BLE001 - any failure to search is what this check reports
        search_ok = False
    Workspace(index).index([corpus_b])
    return doctor.healthy, search_ok, read_state(index).differences(reference)


def scenario(work: Path) -> tuple[Path, Path, Path, IndexState, float]:
    """Corpora A and B, the index of A, and the reference state of A synced to B uninterrupted (timed)."""
    from app.workspace import Workspace

    corpus_a, corpus_b = write_corpus(work / "A", "A"), write_corpus(work / "B", "B")
    base = work / "base-index"
    shutil.rmtree(base, ignore_errors=True)
    Workspace(base).index([corpus_a])
    corpus = work / "live"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(corpus_a, corpus)
    reference_index = work / "reference"
    shutil.rmtree(reference_index, ignore_errors=True)
    shutil.copytree(base, reference_index)
    started = time.perf_counter()
    ended = sift("index", str(corpus_b), "--index", str(reference_index))
    seconds = time.perf_counter() - started
    if ended.returncode != 0:
        raise RuntimeError(f"the uninterrupted sync failed: {ended.stderr}")
    return corpus_b, base, reference_index, read_state(reference_index), seconds


Scenario = tuple[Path, Path, Path, IndexState, float]


def run_kills(
    work: Path, plan: list[tuple[str, str | None, float | None]], prepared: Scenario | None = None
) -> list[KillResult]:
    """Run each (label, fault point, delay) of ``plan`` on a fresh copy of the base index."""
    corpus_b, base, _, reference, _ = prepared or scenario(work)
    results = []
    for how, fault, delay in plan:
        index = work / "victim"
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(base, index)
        ended = killed_sync(corpus_b, index, fault=fault, delay=delay)
        results.append(KillResult(how, ended, *check_after_kill(corpus_b, index, reference)))
    return results


def hook_plan(counts: int = 3) -> list[tuple[str, str | None, float | None]]:
    """A kill at each write-path point, at its 1st..``counts``-th passage."""
    from indexing.faults import POINTS

    return [(f"{p}:{n}", f"{p}:{n}", None) for p in POINTS for n in range(1, counts + 1)]


def time_plan(seconds: float, n: int, seed: int = 0) -> list[tuple[str, str | None, float | None]]:
    """``n`` kills at delays spread over an uninterrupted sync's ``seconds`` (start-up included)."""
    rng = random.Random(seed)
    delays = sorted(rng.uniform(0.3, seconds * 1.05) for _ in range(n))
    return [(f"after {d:.2f} s", None, d) for d in delays]
