"""Today's int8 layout: the first layer stays fp32, vectors come closer to fp32 than all-int8,
indexes built with the earlier all-int8 layout keep it, and ``auto`` (the default) picks int8 on the CPU."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.settings import Settings
from app.workspace import Workspace
from indexing import onnx_cache
from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder, resolve_weights
from indexing.errors import ConfigError, IndexMismatchError
from indexing.manifest import Manifest
from indexing.store import Store
from indexing.store.schema import DB_NAME
from indexing.store.state import write_manifest_copy
from indexing.sync import Syncer
from pipelines.classify.embed_cache import weights_name

pytestmark = pytest.mark.slow

TEXTS = [
    "The Amazon is the largest river in South America and by discharge of water the largest in the world.",
    "Johann Sebastian Bach was a German composer and musician of the late Baroque period.",
    "Photosynthesis converts light energy into chemical energy stored in glucose; oxygen is released.",
    "1994 film by Quentin Tarantino",
    "The Treaty of Westphalia (1648) ended the Thirty Years' War.",
    "Mount Everest, 8,849 metres above sea level, is Earth's highest mountain above sea level.",
    "A compiler translates source code written in one programming language into another language.",
    "The mitochondrion is the organelle that produces most of the chemical energy of a cell.",
    "Error E1234: the connection to host db-07.internal timed out after 30 seconds.",
    "Pablo Picasso co-founded the Cubist movement with Georges Braque.",
    "Inflation is the general increase in the prices of goods and services in an economy.",
    "The violin is a wooden string instrument, the smallest and highest-pitched of the violin family.",
]


@pytest.fixture(scope="module")
def defaults() -> Iterator[None]:
    """The user's defaults: ONNX Runtime, no SIFT_QUANTIZE (the graphs go to the suite's shared model cache)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("SIFT_EMBED_RUNTIME", "SIFT_QUANTIZE"):
            mp.delenv(name, raising=False)
        yield


def test_int8_keeps_the_first_layer_fp32(defaults: None) -> None:
    emb = Embedder(quantize="int8")
    assert emb.runtime == "onnx"
    import onnx

    resolved = emb.resolved
    path = onnx_cache.graph_path(resolved, onnx_cache.source_digest(resolved.location) or "", "int8")
    assert path.name.endswith("-int8-l2.onnx") and path.is_file()
    graph = onnx.load(str(path)).graph
    float_matmuls = {node.name for node in graph.node if node.op_type == "MatMul"}
    layer0 = {f"/inner/encoder/layer.0/{part}/MatMul" for part in (
        "attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense",
        "intermediate/dense", "output/dense")}
    assert layer0 <= float_matmuls
    assert not any("/layer.1/" in name and "dense" in name for name in float_matmuls)
    assert sum(node.op_type == "MatMulInteger" for node in graph.node) == 36 - 6  # 6 layers x 6 weighted MatMuls


def test_int8_sessions_ask_for_arithmetic_that_does_not_saturate(defaults: None) -> None:
    emb = Embedder(quantize="int8")
    emb.encode(TEXTS)  # a bulk session
    emb.encode(TEXTS[:1])  # the query session
    encoder = emb._onnx
    assert encoder is not None and len(encoder._sessions) >= 2
    for session in encoder._sessions.values():
        assert session.get_session_options().get_session_config_entry("session.x64quantprecision") == "1"


def test_a_graph_cached_by_the_earlier_format_is_rebuilt(defaults: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    emb = Embedder(quantize="int8")
    assert emb.runtime == "onnx"  # the graph is cached (built if this test runs alone)
    resolved = emb.resolved
    path = onnx_cache.graph_path(resolved, onnx_cache.source_digest(resolved.location) or "", "int8")
    monkeypatch.setattr(onnx_cache, "cache_dir", lambda: tmp_path)
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["format"] == onnx_cache.FORMAT == 2
    copy.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    assert onnx_cache.load_cached(resolved, "int8") is not None
    copy.with_suffix(".json").write_text(json.dumps(meta | {"format": 1}), encoding="utf-8")
    assert onnx_cache.load_cached(resolved, "int8") is None, "its probes were computed by other kernels"
    assert weights_name(emb).endswith("-f2"), "the classifier's cached vectors are keyed by the format too"


def test_int8_vectors_are_closer_to_fp32_than_the_all_int8_ones(defaults: None) -> None:
    fp32 = Embedder(quantize="none").encode(TEXTS)
    int8, int8_all = Embedder(quantize="int8").encode(TEXTS), Embedder(quantize="int8-all").encode(TEXTS)
    error = float(np.mean(1 - np.sum(int8 * fp32, axis=1)))
    error_all = float(np.mean(1 - np.sum(int8_all * fp32, axis=1)))
    assert error < error_all, (error, error_all)
    assert float(np.sum(int8 * int8_all, axis=1).min()) < 0.99999  # two different graphs, not one
    assert weights_name(Embedder(quantize="int8")) != weights_name(Embedder(quantize="int8-all"))


def test_auto_is_int8_on_the_cpu_and_fp32_on_a_gpu_or_with_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_EMBED_RUNTIME", raising=False)
    assert (resolve_weights("auto", "cpu"), resolve_weights("auto", "cuda:0")) == ("int8", "none")
    monkeypatch.setenv("SIFT_EMBED_RUNTIME", "torch")
    assert resolve_weights("auto", "cpu") == "none"
    with pytest.raises(ConfigError, match="quantize"):
        resolve_weights("int4")


def test_a_manifest_written_before_the_layout_reads_as_all_int8() -> None:
    new = Manifest("all-MiniLM-L6-v2", 384, 200, 32, quantize="int8")
    assert Manifest.from_json(new.to_json()).quantize == "int8"
    old = json.loads(new.to_json())
    del old["int8_layout"]
    assert Manifest.from_json(json.dumps(old)).quantize == "int8-all"
    fp32 = json.loads(Manifest("all-MiniLM-L6-v2", 384, 200, 32).to_json())
    del fp32["int8_layout"]
    assert Manifest.from_json(json.dumps(fp32)).quantize == "none"
    kept = Manifest("all-MiniLM-L6-v2", 384, 200, 32, quantize="int8-all")
    assert Manifest.from_json(kept.to_json()).quantize == "int8-all"


def test_a_new_index_is_int8_by_default_and_an_all_int8_one_keeps_its_weights(
    defaults: None, corpus_dir: Path, tmp_path: Path
) -> None:
    assert Settings().quantize == "auto"
    ws = Workspace(tmp_path / "new")
    ws.index([corpus_dir])
    assert ws.store.manifest.quantize == "int8" and ws.embedder.quantize == "int8"

    old = tmp_path / "old"
    Syncer(old, Embedder(quantize="int8-all"), ChunkerConfig()).sync([corpus_dir])
    _write_as_before_the_layout(old)  # as an earlier sift wrote it: all-int8 vectors, "int8" and no layout
    reopened = Workspace(old)
    assert reopened.quantize == "int8-all" and reopened.embedder.quantize == "int8-all"
    (corpus_dir / "extra.txt").write_text("The Danube flows through ten countries, more than any other river.")
    reopened.index([corpus_dir], quantize="int8")  # asking for int8 keeps the index's own int8 layout
    assert Store.open(old).manifest.quantize == "int8-all"
    hits = reopened.search("The Danube flows through ten countries, more than any other river.", k=1, mode="dense")
    assert Path(hits[0].source).name == "extra.txt"
    with pytest.raises(IndexMismatchError, match="quantize=int8-all weights but quantize=none .* --quantize int8 "):
        reopened.index([corpus_dir], quantize="none")


def _write_as_before_the_layout(index: Path) -> None:
    with sqlite3.connect(index / DB_NAME) as conn:
        row = json.loads(conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0])
        assert row.pop("int8_layout") == 2 and row["quantize"] == "int8-all"
        conn.execute("UPDATE state SET value=? WHERE key='manifest'", (json.dumps(row | {"quantize": "int8"}),))
        write_manifest_copy(index, conn)
