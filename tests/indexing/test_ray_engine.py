"""The Ray engine builds, re-syncs and survives a killed worker with exactly the local engine's index.

One local Ray (2 CPUs) serves the module. Small write groups and document batches make the
pipeline hand back several batches, out of order, across several write groups.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import ray

from indexing.chunker import ChunkerConfig
from indexing.engines import EngineUnavailableError, ray_engine
from indexing.report import SyncReport
from indexing.store import Store
from indexing.sync import Syncer

pytestmark = pytest.mark.slow
LONG = "\n\n".join(
    f"Paragraph {i} of the history of bridges: engineers in the {1700 + 10 * i}s built arches of stone, "
    "then of iron, and later suspended decks from cables hung between tall towers." for i in range(12)
)


@pytest.fixture()
def corpus(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared four documents plus a long one, a three-row CSV, a broken PDF and an unsupported file."""
    (corpus_dir / "bridges.md").write_text("# Bridges\n\n" + LONG + "\n", encoding="utf-8")
    (corpus_dir / "fruit.csv").write_text(
        "title,text\nApple,Apples grow on trees in orchards.\nPear,Pears ripen after picking.\n"
        "Plum,Plums dry into prunes.\n", encoding="utf-8"
    )
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (corpus_dir / "photo.xyz").write_bytes(b"\x00\x01")
    monkeypatch.setenv("SIFT_GROUP_CHUNKS", "6")  # several write groups
    monkeypatch.setattr(ray_engine, "DOCS_PER_BATCH", 2)  # several actor batches per group
    return corpus_dir


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module, shut down at its end."""
    ray_engine.start_local_ray(2)
    yield
    ray.shutdown()


def _sync(index: Path, embedder, corpus: Path, engine: str, **kw) -> SyncReport:
    return Syncer(index, embedder, ChunkerConfig(64, 8), engine=engine, **kw).sync([corpus])


def _state(index: Path) -> dict:
    """Everything a sync writes, in comparable form (vectors apart)."""
    store = Store.open(index)
    chunks = store.get_chunks(store.chunk_ids())
    return {
        "chunks": [(c.id, c.doc_id, c.ordinal, c.text, c.start, c.end, c.source, c.title) for c in chunks],
        "documents": sorted((d.id, d.source, d.title, d.hash, d.n_chunks) for d in store.documents()),
        "files": store.files(),
        "statuses": sorted((s.path, s.status, s.reason, s.documents) for s in store.file_statuses()),
    }


def _assert_same_index(a: Path, b: Path) -> None:
    state_a, state_b = _state(a), _state(b)
    assert state_a == state_b
    store_a, store_b = Store.open(a), Store.open(b)
    ids_a, vectors_a = store_a.vectors()
    ids_b, vectors_b = store_b.vectors()
    assert ids_a.tolist() == ids_b.tolist() and len(set(ids_a.tolist())) == len(ids_a)
    np.testing.assert_allclose(vectors_a, vectors_b, atol=1e-5, rtol=0)
    leads_a, leads_b = store_a.lead_vectors(ids_a), store_b.lead_vectors(ids_b)
    assert leads_a.keys() == leads_b.keys() and leads_a
    for chunk_id, lead in leads_a.items():
        np.testing.assert_allclose(lead, leads_b[chunk_id], atol=1e-5, rtol=0)


def _outcome(report: SyncReport) -> tuple:
    return (sorted(report.added), sorted(report.updated), sorted(report.removed), sorted(report.unchanged),
            report.chunks_embedded, report.leads_embedded, sorted(report.files, key=lambda e: e.path))


def test_an_unreachable_address_is_a_clear_error_and_changes_nothing(tmp_path: Path, embedder, corpus: Path) -> None:
    assert not ray.is_initialized(), "runs before the module's Ray starts: the engine must connect itself"
    index = tmp_path / "idx"
    _sync(index, embedder, corpus, "local")
    before = _state(index)
    (corpus / "bread.txt").write_text("Rye bread is dense and dark.\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(EngineUnavailableError, match=r"--ray-address 127\.0\.0\.1:1 .*ray start --head"):
        _sync(index, embedder, corpus, "ray", ray_address="127.0.0.1:1")
    assert time.perf_counter() - started < 15 and not ray.is_initialized()
    assert _state(index) == before


def test_local_workers_run_at_the_callers_priority(local_ray) -> None:
    """Ray's default (nice 15) starves the workers, which do all the indexing, beside any busy process."""

    @ray.remote
    def niceness() -> int:
        return os.nice(0)

    assert ray.get(niceness.remote()) == os.nice(0)


def test_ray_build_and_resync_equal_the_local_ones(tmp_path: Path, embedder, corpus: Path, local_ray) -> None:
    local, distributed = tmp_path / "local", tmp_path / "ray"
    first = _outcome(_sync(local, embedder, corpus, "local"))
    assert _outcome(_sync(distributed, embedder, corpus, "ray")) == first
    assert first[4] > 12 and {e.status for e in first[6]} == {"parsed", "failed", "unsupported"}
    _assert_same_index(local, distributed)
    (corpus / "bread.txt").write_text("Sourdough uses a wild yeast starter instead of baker's yeast.\n")
    (corpus / "cats.md").unlink()
    (corpus / "fruit.csv").write_text("title,text\nApple,Apples grow on trees in orchards.\nFig,Figs like heat.\n")
    (corpus / "new.txt").write_text("Volcanoes erupt lava and ash.\n")
    again = _outcome(_sync(local, embedder, corpus, "local"))
    assert _outcome(_sync(distributed, embedder, corpus, "ray")) == again
    assert again[1] and again[2] and again[3]  # something updated, removed and kept
    _assert_same_index(local, distributed)
    assert ray.is_initialized(), "the engine leaves a Ray session it did not start running"


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_lost_or_doubled(
    tmp_path: Path, embedder, corpus: Path, local_ray, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "killed-once"
    monkeypatch.setenv(ray_engine.FAULT_ENV, str(marker))
    monkeypatch.setenv(ray_engine.WORKERS_ENV, "2")
    report = _sync(tmp_path / "ray", embedder, corpus, "ray")
    assert marker.exists(), "a worker reached the fault point and exited"
    monkeypatch.delenv(ray_engine.FAULT_ENV)
    _sync(tmp_path / "local", embedder, corpus, "local")
    _assert_same_index(tmp_path / "local", tmp_path / "ray")
    store = Store.open(tmp_path / "ray")
    keys = [(c.doc_id, c.ordinal) for c in store.get_chunks(store.chunk_ids())]
    assert len(keys) == len(set(keys)) == report.chunks_embedded == store.count_chunks()
