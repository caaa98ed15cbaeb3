"""Ask page (AppTest) on a tiny real index with the real SmolLM2 generator through llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import build_index, page_app

from app.ui.ask_page import HISTORY


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("ask"))


@pytest.fixture()
def app(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    return page_app("app.ui.ask_page").run()


def test_answers_with_metrics_and_keeps_history(app: AppTest) -> None:
    app.chat_input[0].set_value("Where is the Eiffel Tower?").run(timeout=180)
    assert not app.exception and not app.error
    ((question, answer),) = app.session_state[HISTORY]
    assert question == "Where is the Eiffel Tower?"
    assert not answer.refused and answer.text.strip()
    assert any("TTFT" in c.value and "tokens/s" in c.value for c in app.caption)
    app.chat_input[0].set_value("What do cats eat?").run(timeout=180)
    assert len(app.session_state[HISTORY]) == 2, "the conversation is kept in session state"


def test_off_topic_question_is_refused_without_the_generator(app: AppTest) -> None:
    app.chat_input[0].set_value("What is the GDP of Brazil in 1950?").run(timeout=180)
    assert not app.exception
    ((_, answer),) = app.session_state[HISTORY]
    assert answer.refused and answer.metrics is None
    assert any("No answer" in w.value for w in app.warning)


def test_decoding_controls_are_in_the_sidebar(app: AppTest) -> None:
    assert {s.key for s in app.sidebar.slider} >= {"ask_temperature", "ask_top_p"}
    assert app.sidebar.selectbox(key="ask_preset").value == "smollm2-135m"
