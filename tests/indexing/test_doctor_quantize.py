"""`sift doctor --repair` re-embeds with the manifest's weights: an int8 index gets int8 vectors back, the very
ones its build stored, not the fp32 vectors of the default embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.workspace import Workspace
from indexing.embedder import Embedder
from indexing.store import Store

pytestmark = pytest.mark.slow


def _vectors(index: Path) -> dict[int, np.ndarray]:
    store = Store.open(index)
    try:
        ids, vectors = store.vectors()
        return dict(zip(ids.tolist(), vectors, strict=True))
    finally:
        store.close()


def test_repairing_an_int8_index_keeps_int8_vectors(tmp_path: Path, corpus_dir: Path, capsys) -> None:  # noqa: ANN001
    index = tmp_path / "idx"
    Workspace(index).index([corpus_dir], chunk_size=64, quantize="int8")
    built = _vectors(index)
    store = Store.open(index)
    segment, manifest = store.segments()[0]["name"], store.manifest
    records = store.get_chunks(store.chunk_ids().tolist())
    store.close()
    assert manifest.quantize == "int8"
    shutil.rmtree(index / f"{segment}.vec")  # every vector lost: all re-embedded

    assert main(["doctor", "--index", str(index), "--repair", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] and any(r.startswith(f"re-embedded {len(records)} chunk(s)") for r in report["repaired"])
    repaired = _vectors(index)
    assert sorted(repaired) == sorted(built)
    for i, vector in repaired.items():
        np.testing.assert_allclose(vector, built[i], atol=1e-4, err_msg=f"vector {i} is not the int8 one built")

    # Decisive: the fp32 weights give other vectors for these chunks, so a repair with them could not pass above.
    first = records[0]
    fp32 = Embedder(manifest.embedding_model, quantize="none").encode([first.text])[0]
    int8 = Embedder(manifest.embedding_model, quantize="int8").encode([first.text])[0]
    assert float(fp32 @ int8) < 0.9999 and np.abs(fp32 - int8).max() > 1e-3
