"""`sift doctor`: damage is named, never silent, and --repair rebuilds the index a build gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.workspace import Workspace
from indexing.errors import IndexCorruptError
from indexing.store import Store
from indexing.store import vectors as vec


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
             "generation": store.generation}
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
    bm25 = index / f"bm25-{state['generation']}"
    shutil.rmtree(bm25)
    with pytest.raises(IndexCorruptError, match=f"{bm25}/ids.npy of committed generation .* is missing"):
        Store.open(index)
    assert main(["search", "cats", "--index", str(index)]) == 1
    assert "sift doctor" in capsys.readouterr().err
    code, report = _doctor(capsys, index)
    assert code == 1 and [p["code"] for p in report["problems"]] == ["generation_files"]
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and report["healthy"] and any("rebuilt BM25" in r for r in report["repaired"])
    assert not any("re-embedded" in r for r in report["repaired"])  # the vectors were intact: none re-embedded
    _same_as_built(index, state)


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_lost_vectors_are_re_embedded(built, capsys, damage: str) -> None:  # noqa: ANN001
    index, state = built
    path = index / f"vectors-{state['generation']}.faiss"
    if damage == "deleted":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=str(path)):
        Store.open(index)
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and report["healthy"]
    assert f"re-embedded {len(state['vectors'])} chunk(s) ({state['leads']} lead vector(s))" in report["repaired"]
    _same_as_built(index, state)


def test_vectors_missing_for_some_chunks_only_those_are_re_embedded(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    path = index / f"vectors-{state['generation']}.faiss"
    index_obj = vec.load_index(path)
    dropped = sorted(state["vectors"])[:2]
    index_obj.remove_ids(np.asarray(dropped, dtype=np.int64))
    vec.save_index(index_obj, path)
    code, report = _doctor(capsys, index)
    assert code == 1 and "2 chunk(s) have no vector" in report["problems"][0]["message"]
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and any(r.startswith("re-embedded 2 chunk(s)") for r in report["repaired"])
    _same_as_built(index, state)


def test_manifest_copy_and_garbage_are_repaired(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    (index / "manifest.json").unlink()
    (index / "vectors-99.faiss").write_bytes(b"junk")
    code, report = _doctor(capsys, index)
    assert code == 1 and {p["code"] for p in report["problems"]} == {"manifest_copy"}
    assert "vectors-99.faiss" in report["notes"][0]  # a killed writer's leftovers: noted, not damage
    code, report = _doctor(capsys, index, "--repair")
    assert code == 0 and (index / "manifest.json").exists() and not (index / "vectors-99.faiss").exists()
    _same_as_built(index, state)


def test_text_report_says_what_to_do(built, capsys) -> None:  # noqa: ANN001
    index, state = built
    shutil.rmtree(index / f"bm25-{state['generation']}")
    assert main(["doctor", "--index", str(index)]) == 1
    out = capsys.readouterr().out
    assert "problem:" in out and "run again with --repair" in out
    assert main(["doctor", "--index", str(index), "--repair"]) == 0
    assert "healthy after repair" in capsys.readouterr().out
