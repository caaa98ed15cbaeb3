"""The ONNX Runtime query path: same vectors as PyTorch, used only where it applies, easy to turn off."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.embedder import QUERIES_BEFORE_FAST_PATH, Embedder
from indexing.query_runtime import OnnxQueryEncoder, _mean_pooled_transformer, build_query_encoder

TEXTS = [
    "1994 film by Quentin Tarantino",
    "species of flowering plant in the family Asteraceae, native to southern Europe",
    "Ünïcödé, emoji 🙂 and 漢字",
    "word " * 400,  # longer than the model reads: truncated exactly as PyTorch truncates
]


@pytest.fixture(scope="module")
def fast(embedder: Embedder) -> OnnxQueryEncoder:
    encoder = build_query_encoder(embedder.model)
    assert encoder is not None, "all-MiniLM-L6-v2 is Transformer → mean pooling → Normalize: the fast path applies"
    return encoder


def test_onnx_vectors_equal_pytorch_vectors(embedder: Embedder, fast: OnnxQueryEncoder) -> None:
    reference = embedder.encode_torch(TEXTS)
    for text, ref in zip(TEXTS, reference):
        got = fast.encode([text])
        assert got.shape == (1, embedder.dimension) and got.dtype == np.float32
        assert abs(float(np.linalg.norm(got)) - 1) < 1e-5
        assert float(got[0] @ ref) > 0.99999
    batch = fast.encode(TEXTS[:3])  # padded batch: the mask keeps padding out of the mean
    assert np.allclose(batch, reference[:3], atol=2e-5)


def test_embedder_switches_to_the_fast_path_after_a_few_queries(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIFT_EMBED_RUNTIME", "torch")  # batches on PyTorch: queries move to ONNX after a few
    emb = Embedder()
    assert emb.runtime == "torch"
    reference = embedder.encode_torch(TEXTS[:1])
    for call in range(QUERIES_BEFORE_FAST_PATH + 1):
        assert emb._query_encoder_built == (call >= QUERIES_BEFORE_FAST_PATH)
        assert float(emb.encode(TEXTS[:1])[0] @ reference[0]) > 0.99999
    assert emb.query_encoder() is not None
    many = emb.encode(TEXTS * 2)  # 8 texts: a batch, PyTorch
    assert np.allclose(many, embedder.encode_torch(TEXTS * 2), atol=1e-6)


def test_fast_path_can_be_turned_off(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_QUERY_RUNTIME", "torch")
    assert build_query_encoder(embedder.model) is None
    for runtime in ("onnx", "torch"):  # batches on either: queries stay on PyTorch
        monkeypatch.setenv("SIFT_EMBED_RUNTIME", runtime)
        emb = Embedder()
        emb.warm_up(queries=True)
        assert emb.runtime == runtime and emb.query_encoder() is None
        assert np.array_equal(emb.encode(TEXTS[:1]), embedder.encode_torch(TEXTS[:1]))


class Transformer:
    auto_model = object()


class Pooling:
    def __init__(self, mode: str) -> None:
        self.pooling_mode = mode


class Normalize:
    pass


class Dense:
    pass


def test_only_mean_pooled_transformers_qualify() -> None:
    assert _mean_pooled_transformer([Transformer(), Pooling("mean"), Normalize()]) is Transformer.auto_model
    assert _mean_pooled_transformer([Transformer(), Pooling("mean")]) is Transformer.auto_model
    assert _mean_pooled_transformer([Transformer(), Pooling("cls"), Normalize()]) is None
    assert _mean_pooled_transformer([Transformer(), Pooling("mean"), Dense(), Normalize()]) is None
    assert _mean_pooled_transformer([Transformer(), Pooling("mean"), Dense()]) is None
