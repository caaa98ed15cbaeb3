"""Under-the-hood computations: sampling math (pure NumPy), tokenizer views and similarities with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.embedder import Embedder
from indexing.errors import ConfigError
from pipelines.inspection import (
    GeneratorInspector,
    cosine_matrix,
    default_generator_model,
    embedding_tokens,
    reshape_distribution,
    softmax,
    top_indices,
    top_k_mask,
    top_p_mask,
)

LOGITS = np.array([2.0, 1.0, 0.0, -1.0, -3.0])


# ---- sampling math -----------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0])
def test_softmax_matches_the_formula(temperature: float) -> None:
    expected = np.exp(LOGITS / temperature) / np.exp(LOGITS / temperature).sum()
    np.testing.assert_allclose(softmax(LOGITS, temperature), expected, rtol=1e-12)


def test_softmax_edges() -> None:
    assert softmax(LOGITS, 0.0).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert softmax(np.array([1.0, -np.inf]), 1.0).tolist() == [1.0, 0.0]
    np.testing.assert_allclose(softmax(np.array([1000.0, 999.0])).sum(), 1.0)  # no overflow
    with pytest.raises(ConfigError):
        softmax(LOGITS, -0.5)


def test_lower_temperature_sharpens_and_higher_flattens() -> None:
    peaks = [softmax(LOGITS, t).max() for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert peaks == sorted(peaks, reverse=True)


def test_top_indices_are_ordered_with_stable_ties() -> None:
    assert top_indices(np.array([0.1, 0.4, 0.4, 0.1]), 3).tolist() == [1, 2, 0]
    assert top_indices(LOGITS, 0).tolist() == []


@pytest.mark.parametrize(("k", "kept"), [(0, 5), (1, 1), (3, 3), (5, 5), (99, 5)])
def test_top_k_mask(k: int, kept: int) -> None:
    mask = top_k_mask(LOGITS, k)
    assert mask.sum() == kept and mask[:kept].all()


@pytest.mark.parametrize(("p", "kept"), [(0.01, 1), (0.5, 1), (0.7, 2), (0.8, 2), (0.9, 3), (1.0, 4)])
def test_top_p_mask_keeps_the_smallest_nucleus(p: float, kept: int) -> None:
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    assert top_p_mask(probs, p).tolist() == [i < kept for i in range(4)]


def test_reshape_without_controls_is_plain_softmax() -> None:
    np.testing.assert_allclose(reshape_distribution(LOGITS, 0.7), softmax(LOGITS, 0.7), rtol=1e-12)


def test_reshape_applies_top_p_before_temperature_as_llama_cpp_does() -> None:
    # At temperature 1, token 0 holds 0.64 < 0.7 of the mass, so top-p 0.7 keeps two tokens; the
    # temperature then sharpens the two. Tempering first would have kept only token 0.
    shaped = reshape_distribution(LOGITS, temperature=0.5, top_p=0.7)
    assert np.count_nonzero(shaped) == 2
    np.testing.assert_allclose(shaped[:2], softmax(LOGITS[:2], 0.5), rtol=1e-12)


def test_reshape_cuts_and_renormalises() -> None:
    shaped = reshape_distribution(LOGITS, temperature=1.0, top_k=3)
    np.testing.assert_allclose(shaped[:3], softmax(LOGITS[:3]), rtol=1e-12)
    assert shaped[3:].tolist() == [0.0, 0.0] and shaped.sum() == pytest.approx(1.0)
    assert reshape_distribution(LOGITS, temperature=5.0, top_k=1).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ConfigError):
        reshape_distribution(LOGITS, top_p=0.0)


# ---- embedding model --------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Cats purr", "", "emoji 🙂 ok", "naïve café"])
def test_embedding_tokens_match_the_tokenizer(embedder: Embedder, text: str) -> None:
    view = embedding_tokens(embedder, text)
    assert view.ids == embedder.tokenizer(text)["input_ids"]
    assert view.tokens[0] == "[CLS]" and view.tokens[-1] == "[SEP]"
    assert view.count == embedder.count_tokens(text) + 2
    assert view.limit == embedder.max_seq_length and not view.over_limit


def test_embedding_tokens_report_text_past_the_limit(embedder: Embedder) -> None:
    view = embedding_tokens(embedder, "word " * 400)
    assert view.count == 402 and view.over_limit


def test_cosine_matrix_is_the_brute_force_dot_product(embedder: Embedder) -> None:
    texts = ["A cat sleeps on the sofa.", "A kitten naps on the couch.", "Stocks fell sharply today."]
    matrix = cosine_matrix(embedder, texts)
    vectors = embedder.encode(texts).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(matrix, vectors @ vectors.T, atol=1e-5)
    assert matrix[0, 1] > matrix[0, 2] and matrix[0, 1] > matrix[1, 2]
    with pytest.raises(ConfigError, match="at least two"):
        cosine_matrix(embedder, ["alone"])


# ---- generator (real SmolLM2 GGUF on llama.cpp) --------------------------------------------------
@pytest.fixture(scope="module")
def generator() -> GeneratorInspector:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return GeneratorInspector(*default_generator_model())


@pytest.mark.parametrize("text", ["Hello world", "naïve café 🙂", "  spaces  ", "x" * 3000])
def test_generator_tokens_round_trip(generator: GeneratorInspector, text: str) -> None:
    view = generator.tokenize(text)
    assert "".join(view.tokens) == text
    assert view.limit == generator.n_ctx == 2048 and view.over_limit == (view.count > 2048)


def test_generator_parses_special_tokens(generator: GeneratorInspector) -> None:
    view = generator.tokenize("<|im_start|>user")
    assert view.tokens[0] == "<|im_start|>" and view.count == 2


def test_next_token_distribution(generator: GeneratorInspector) -> None:
    logits = generator.next_token_logits("The capital of France is")
    assert logits.shape == (generator.vocab.n_vocab(),) and logits.dtype == np.float32
    top = generator.top_tokens("The capital of France is", 10)
    assert top[0].text == " Paris" and top[0].prob > 0.3
    assert [t.prob for t in top] == sorted((t.prob for t in top), reverse=True)
    np.testing.assert_allclose(top[0].prob, softmax(logits).max(), rtol=1e-6)  # same prompt, same logits


def test_next_token_refuses_an_empty_prompt(generator: GeneratorInspector) -> None:
    with pytest.raises(ConfigError, match="empty"):
        generator.next_token_logits("  ")
