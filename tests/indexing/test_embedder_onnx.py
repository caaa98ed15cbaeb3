"""The ONNX Runtime bulk path and int8 weights: same vectors as PyTorch, a verified cache, a refused mismatch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.workspace import Workspace
from indexing import onnx_cache
from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.errors import ConfigError, IndexMismatchError
from indexing.sync import Syncer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "The Amazon is the largest river in South America and by discharge of water the largest in the world.",
    "Johann Sebastian Bach was a German composer and musician of the late Baroque period, known for the "
    "Brandenburg Concertos, the Mass in B minor and the Goldberg Variations.",
    "Photosynthesis converts light energy into chemical energy stored in glucose; oxygen is released.",
    "1994 film by Quentin Tarantino",
    "Ünïcödé, emoji 🙂 and 漢字",
    "",
    "word " * 400,  # longer than the model reads: truncated exactly as PyTorch truncates
    "The Treaty of Westphalia (1648) ended the Thirty Years' War. " * 6,
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir of this module's own, so the graphs here are exported (and cached) by these tests."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIFT_DATA", str(data))
        mp.delenv("SIFT_EMBED_RUNTIME", raising=False)
        yield data / "models" / "onnx"


@pytest.fixture(scope="module")
def fp32(cache: Path) -> Embedder:
    emb = Embedder()
    assert emb.runtime == "onnx"
    return emb


@pytest.fixture(scope="module")
def int8(cache: Path) -> Embedder:
    emb = Embedder(quantize="int8")
    assert emb.runtime == "onnx"
    return emb


def test_onnx_bulk_vectors_equal_pytorch(fp32: Embedder, embedder: Embedder) -> None:
    reference = embedder.encode_torch(TEXTS)
    got = fp32.encode(TEXTS * 2)  # 16 texts: the bulk session, sorted by length and batched
    assert got.shape == (16, 384) and got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    cosine = np.sum(got * np.vstack([reference, reference]), axis=1)
    assert float(cosine.min()) >= 1 - 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    query = fp32.encode(TEXTS[:1])  # one text: the query session, same vector
    assert float(query[0] @ reference[0]) >= 1 - 1e-4


def test_bulk_sessions_side_by_side_give_the_vectors_one_session_gives(
    fp32: Embedder, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"{t} ({n})" for n in range(8) for t in TEXTS]  # 64 texts: 64 batches of one
    encoder = fp32._onnx
    assert encoder is not None
    ran_on: set[str] = set()
    run = encoder._run

    def recorded(session: Any, batch: list[str]) -> np.ndarray:
        ran_on.add(threading.current_thread().name)
        return run(session, batch)

    monkeypatch.setattr(encoder, "_run", recorded)
    monkeypatch.setenv("SIFT_EMBED_WORKERS", "1")
    alone = encoder.encode(texts)
    assert len(ran_on) == 1
    ran_on.clear()
    monkeypatch.setenv("SIFT_EMBED_WORKERS", "2")
    counted: list[int] = []
    together = encoder.encode(texts, progress=counted.append)
    assert len(ran_on) == 2 and all(name.startswith("sift-embed") for name in ran_on)
    assert sum(counted) == len(texts) and len(counted) == len(texts)
    assert np.allclose(together, alone, atol=1e-6)  # every text lands in its own row
    assert float(np.sum(together * embedder.encode_torch(texts), axis=1).min()) >= 1 - 1e-4


def test_a_failing_bulk_session_stops_the_others_and_raises(fp32: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = fp32._onnx
    assert encoder is not None
    calls: list[int] = []
    run = encoder._run

    def failing(session: Any, batch: list[str]) -> np.ndarray:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("session failed")
        return run(session, batch)

    monkeypatch.setattr(encoder, "_run", failing)
    monkeypatch.setenv("SIFT_EMBED_WORKERS", "2")
    with pytest.raises(RuntimeError, match="session failed"):
        encoder.encode([f"{t} ({n})" for n in range(8) for t in TEXTS])
    assert len(calls) < 10  # of 64 batches: the other session stopped after the one it had taken


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_sift_embed_workers_is_refused_by_name(
    fp32: Embedder, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    encoder = fp32._onnx
    assert encoder is not None
    monkeypatch.setenv("SIFT_EMBED_WORKERS", value)
    with pytest.raises(ConfigError, match=f"SIFT_EMBED_WORKERS .*got '{re.escape(value)}'"):
        encoder.encode(TEXTS * 2)


def test_token_counts_and_limits_match_the_hugging_face_tokenizer(fp32: Embedder, embedder: Embedder) -> None:
    assert fp32.count_tokens_many(TEXTS) == [len(embedder.tokenizer(t, add_special_tokens=False)["input_ids"])
                                             for t in TEXTS]
    assert fp32.count_tokens_many(TEXTS)[6] == 400  # counted, not truncated
    assert (fp32.dimension, fp32.max_seq_length) == (embedder.model.get_embedding_dimension(), 256)


def test_int8_vectors_are_close_to_pytorch(int8: Embedder, embedder: Embedder) -> None:
    texts = [t for t in TEXTS if t]  # the empty text's vector is [CLS]+[SEP] alone: int8 gives cosine 0.973 there
    reference = embedder.encode_torch(texts)
    bulk, queries = int8.encode(texts), np.vstack([int8.encode([t]) for t in texts])
    assert float(np.sum(bulk * reference, axis=1).min()) >= onnx_cache.MIN_COSINE_INT8
    assert float(np.sum(bulk * queries, axis=1).min()) > 0.9999  # queries run the same int8 graph
    assert float(np.sum(bulk * reference, axis=1).min()) < 0.99999  # and it is int8: not the fp32 graph
    assert int8.name == "all-MiniLM-L6-v2" and int8.quantize == "int8"


def test_int8_index_finds_a_document_by_its_own_text_and_refuses_fp32(
    int8: Embedder, corpus_dir: Path, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "index")
    ws.index([corpus_dir], quantize="int8")
    assert ws.quantize == "int8" and ws.embedder.quantize == "int8"
    hits = ws.search("The Eiffel Tower is a wrought-iron lattice tower in Paris, France, finished in 1889.",
                     k=1, mode="dense")
    assert Path(hits[0].source).name == "paris.txt"
    with pytest.raises(IndexMismatchError, match="quantize=int8"):
        ws.index([corpus_dir], quantize="none")
    with pytest.raises(IndexMismatchError, match="--quantize int8"):
        Syncer(tmp_path / "index", Embedder(), ChunkerConfig()).sync([corpus_dir])


def test_a_cache_whose_hash_does_not_match_is_rejected_and_rebuilt(fp32: Embedder, cache: Path) -> None:
    resolved = fp32.resolved
    path = onnx_cache.graph_path(resolved, onnx_cache.source_digest(resolved.location) or "", "none")
    assert onnx_cache.load_cached(resolved, "none") is not None
    graph = path.read_bytes()
    path.write_bytes(graph[:-64] + bytes(64))  # same size, other bytes
    assert onnx_cache.load_cached(resolved, "none") is None
    path.write_bytes(graph)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps(meta | {"source_sha256": "0" * 64}))  # as if built from other weights
    assert onnx_cache.load_cached(resolved, "none") is None
    rebuilt = Embedder()
    assert rebuilt.runtime == "onnx"
    assert float(rebuilt.encode(TEXTS[:1])[0] @ fp32.encode(TEXTS[:1])[0]) > 0.9999
    assert json.loads(sidecar.read_text())["source_sha256"] == meta["source_sha256"]  # rewritten by the rebuild
    assert onnx_cache.load_cached(resolved, "none") is not None


def test_a_cached_graph_encodes_without_importing_torch(fp32: Embedder, cache: Path) -> None:
    code = ("import sys; from indexing.embedder import Embedder; e = Embedder(); v = e.encode(['a cat'] * 9); "
            "print(e.runtime, v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    env = os.environ | {"SIFT_DATA": str(cache.parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert done.stdout.split() == ["onnx", "(9,", "384)", "False", "False"]


def test_runtime_switch(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    monkeypatch.setenv("SIFT_EMBED_RUNTIME", "torch")
    emb = Embedder()
    assert emb.runtime == "torch"
    assert np.allclose(emb.encode(TEXTS), embedder.encode_torch(TEXTS), atol=1e-6)
    with pytest.raises(ConfigError, match="int8"):
        _ = Embedder(quantize="int8").runtime
    monkeypatch.setenv("SIFT_EMBED_RUNTIME", "tensorrt")
    with pytest.raises(ConfigError, match="SIFT_EMBED_RUNTIME"):
        _ = Embedder().runtime
    with pytest.raises(ConfigError, match="quantize"):
        Embedder(quantize="int4")
