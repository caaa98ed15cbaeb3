"""`sift doctor`: damage is named, never silent, and --repair rebuilds the index a build gives."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.workspace import Workspace
from indexing.errors import IndexCorruptError
from indexing.store import Store


@pytest.fixture()
def built(tmp_path: Path, corpus_dir: Path, embedder) -> tuple[Path, dict]:  # noqa: ANN001
    """A small index and what it holds: chunk ids → vectors, lead count, BM25 top hit."""
    index = tmp_path / "idx"
    ws = Workspace(index)
    ws.index([corpus_dir], chunk_size=64)
    store = Store.open(index)
    ids, vectors = store.vectors()
    state = {"vectors": dict(zip(ids.tolist(), vectors, strict=True)), "leads": store.count_leads(),
             "bm25": [h.chunk_id for h in ws.search("purr mice", k=3, mode="bm25")],
             "generation": store.generation, "segment": store.segments()[0]["name"]}
    assert len(store.segments()) == 1
    store.close()
    return index, state


def _doctor(capsys, index: Path, *extra: str) -> tuple[int, dict]:
    code = main(["doctor", "--index", str(index), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _same_as_built(index: Path, state: dict) -> None:
    store = Store.open(index)
    ids, vectors = store.vectors()
    assert sorted(ids.tolist()) == sorted(state["vectors"])
    for i, v in zip(ids.tolist(), vectors, strict=True):
        np.testing.assert_allclose(v, state["vectors"][i], atol=1e-5)
    assert store.count_leads() == state["leads"]
    assert [h.chunk_id for h in Workspace(index).search("purr mice", k=3, mode="bm25")] == state["bm25"]


def test_a_healthy_index_exits_0(built, capsys) -> None:  # noqa: ANN001
    index, _ = built
    code, report = _doctor(capsys, index)
    assert code == 0 and report["healthy"] and report["problems"] == []


def test_missing_bm25_is_named_then_rebuilt(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    bm25 = index / f"{state['segment']}.bm25"
    shutil.rmtree(bm25)
    with pytest.raises(IndexCorruptError, match=f"{bm25} of committed segment .* is missing"):
        Store.open(index)
    assert main(["search", "cats", "--index", str(index)]) == 1
    assert "sift doctor" in capsys.readouterr().err
    code, report = _doctor(capsys, index)
    assert code == 1 and [p["code"] for p in report["problems"]] == ["segment_files"]
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and report["healthy"] and any("rebuilt BM25" in r for r in report["repaired"])
    assert not any("re-embedded" in r for r in report["repaired"])  # the vectors were intact: none re-embedded
    _same_as_built(index, state)


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_lost_vectors_are_re_embedded(built, capsys, damage: str) -> None:  # noqa: ANN001
    index, state = built
    vec_dir = index / f"{state['segment']}.vec"
    if damage == "deleted":
        shutil.rmtree(vec_dir)
    else:
        biggest = max(vec_dir.iterdir(), key=lambda f: f.stat().st_size)
        biggest.write_bytes(biggest.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=str(vec_dir)):
        Store.open(index)
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and report["healthy"]
    assert f"re-embedded {len(state['vectors'])} chunk(s) ({state['leads']} lead vector(s))" in report["repaired"]
    _same_as_built(index, state)


def test_vectors_missing_for_some_chunks_only_those_are_re_embedded(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    dropped = sorted(state["vectors"])[:2]
    with sqlite3.connect(index / "meta.sqlite") as conn:  # tombstones for chunks whose rows are still there
        conn.executemany("INSERT INTO tombstones VALUES (?, ?)", [(i, state["segment"]) for i in dropped])
    code, report = _doctor(capsys, index)
    assert code == 1 and "2 chunk(s) have no vector" in report["problems"][0]["message"]
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and any(r.startswith("re-embedded 2 chunk(s)") for r in report["repaired"])
    _same_as_built(index, state)


def test_manifest_copy_and_garbage_are_repaired(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    (index / "manifest.json").unlink()
    (index / "seg-000099.vec.tmp").mkdir()
    (index / "seg-000099.vec.tmp" / "vectors.npy").write_bytes(b"junk")
    code, report = _doctor(capsys, index)
    assert code == 1 and {p["code"] for p in report["problems"]} == {"manifest_copy"}
    assert "seg-000099.vec.tmp" in report["notes"][0]  # a killed writer's leftovers: noted, not damage
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and (index / "manifest.json").exists() and not (index / "seg-000099.vec.tmp").exists()
    _same_as_built(index, state)


def test_text_report_says_what_to_do(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    shutil.rmtree(index / f"{state['segment']}.bm25")
    assert main(["doctor", "--index", str(index)]) == 1
    out = capsys.readouterr().out
    assert "problem:" in out and "run again with --repair" in out
    assert main(["doctor", "--index", str(index), "--repair"]) == 0
    assert "healthy after repair" in capsys.readouterr().out
