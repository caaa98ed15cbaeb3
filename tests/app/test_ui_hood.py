"""AppTest: the Under-the-hood pages (tokens, next token, similarity) with the real models."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import page_app

from app.ui import tokens_page
from indexing.embedder import Embedder
from pipelines.inspection import GeneratorInspector, default_generator_model, embedding_tokens

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")


@pytest.fixture(autouse=True)
def _no_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(tmp_path / "index"))  # these pages need models, not an index


def progress_texts(at: AppTest) -> list[str]:
    return [element.proto.text for element in at.get("progress")]


def chart(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_tokens_page_counts_tokens_of_both_models(embedder: Embedder) -> None:
    at = page_app("app.ui.tokens_page").run()
    assert not at.exception and not at.error
    embedded = embedding_tokens(embedder, tokens_page.SAMPLE)
    generated = GeneratorInspector(*default_generator_model()).tokenize(tokens_page.SAMPLE)
    assert progress_texts(at) == [
        f"**{embedded.count} tokens** of 256, the most it reads (max_seq_length)",
        f"**{generated.count} tokens** of 2,048, its context window (prompt + answer)",
    ]
    embed_chips, generator_chips = (element.proto.body for element in at.get("html"))
    assert embed_chips.count("<span") == embedded.count and generator_chips.count("<span") == generated.count
    assert ">[CLS]<" in embed_chips and ">[UNK]<" in embed_chips  # the emoji is unknown to WordPiece
    assert 'title="id 7042"' in generator_chips  # ' Paris' is one generator token


def test_tokens_page_warns_when_text_is_past_the_embedding_limit() -> None:
    at = page_app("app.ui.tokens_page").run()
    at.text_area(key="tokens_text").input("word " * 300).run()
    assert "reads only the first 256 tokens" in at.warning[0].value
    assert "line-through" in at.get("html")[0].proto.body


def test_next_token_page_shows_top_tokens_and_reshaped_distribution() -> None:
    at = page_app("app.ui.next_token_page").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["token"].iloc[0] == "' Paris'" and len(table) == 10
    assert table["probability"].is_monotonic_decreasing
    assert "10 of 49,152 tokens can be drawn" in at.caption[1].value  # top-k 40, top-p 0.95
    labels = chart(at)["data"][0]["x"]
    assert labels[0].startswith("&#x27; Paris&#x27;") or labels[0].startswith("' Paris'")
    at.slider(key="temperature").set_value(0.0).run()
    assert "1 of 49,152 tokens can be drawn" in at.caption[1].value
    at.slider(key="temperature").set_value(1.0)
    at.number_input(key="top_k").set_value(0)
    at.slider(key="top_p").set_value(1.0).run()
    assert "49,152 of 49,152 tokens can be drawn" in at.caption[1].value


def test_next_token_page_reports_an_empty_prompt() -> None:
    at = page_app("app.ui.next_token_page").run()
    at.text_area(key="next_prompt").input("   ").run()
    assert not at.exception
    assert "the prompt is empty" in at.error[0].value


def test_similarity_page_draws_the_matrix_and_names_the_closest_pair() -> None:
    at = page_app("app.ui.similarity_page").run()
    assert not at.exception and not at.error
    assert "Closest pair: 1 and 2" in at.caption[-1].value  # cat / kitten
    z = chart(at)["data"][0]["z"]  # plotly's binary array encoding
    matrix = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(5, 5)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-6)


def test_similarity_page_needs_two_texts() -> None:
    at = page_app("app.ui.similarity_page").run()
    at.text_area(key="similarity_texts").input("only one line").run()
    assert "at least two texts" in at.error[0].value
