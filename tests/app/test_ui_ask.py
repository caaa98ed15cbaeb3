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
    assert app.sidebar.selectbox(key="ask_length").options == ["auto", "brief", "explain"]
    assert app.sidebar.selectbox(key="ask_length").value == "brief"


def test_the_answer_length_chosen_in_the_sidebar_reaches_the_answer(app: AppTest) -> None:
    app.sidebar.selectbox(key="ask_length").set_value("explain").run(timeout=180)
    app.chat_input[0].set_value("Where is the Eiffel Tower?").run(timeout=180)
    assert not app.exception and not app.error
    ((_, answer),) = app.session_state[HISTORY]
    assert not answer.refused and answer.answer_length == "explain", "a where-question explained, as forced"


def test_follow_up_is_rewritten_in_the_thread_and_new_conversation_clears_it(app: AppTest) -> None:
    from app.ui.ask_page import THREAD

    assert app.sidebar.button(key="ask_new").disabled, "nothing to clear yet"
    app.chat_input[0].set_value("Where is the Eiffel Tower?").run(timeout=180)
    app.chat_input[0].set_value("When was it finished?").run(timeout=180)
    assert not app.exception and not app.error
    first, second = app.session_state[THREAD]
    assert (first.query, second.query) == ("Where is the Eiffel Tower?", "When was Eiffel Tower finished?")
    assert second.result is not None and second.result.hits[0].title == "paris"
    assert [q for q, _ in app.session_state[HISTORY]] == ["Where is the Eiffel Tower?", "When was it finished?"]
    searched = [c.value for c in app.caption if c.value.startswith("searched for:")]
    assert searched == ["searched for: When was Eiffel Tower finished\\?"], "only the rewritten turn shows it, escaped"
    app.sidebar.button(key="ask_new").click().run(timeout=180)
    assert app.session_state[THREAD] == [] and app.session_state[HISTORY] == []
    assert not [c for c in app.caption if c.value.startswith("searched for:")]


def _details_app() -> None:
    """An answer with one supported and one unsupported sentence, drawn by the page's own show_details."""
    from app.ui.ask_page import show_details
    from pipelines.rag import Answer
    from pipelines.rag.citations import resolve_citations
    from pipelines.rag.locate import Location
    from pipelines.rag.prompt import Passage
    from pipelines.rag.support import check_support

    text = "Visitors queue at the north pillar. The tower was finished in 1889. It is 330 metres tall."
    passage = Passage(1, "t", "/docs/tower.md", "Tower", text, 0, len(text), (1,), 0.9)
    reply = "The tower was finished in 1889 [1]. It was painted gold in 1950 [1]."
    resolved = resolve_citations(reply, [passage], locate=lambda p: Location(line=3, heading="History"))
    answer = Answer("When?", resolved.text, reply, resolved.citations, [passage], False, None, 0.8,
                    support=check_support(resolved.text, [passage]))
    show_details(answer)


def test_details_flag_unsupported_sentences_and_mark_the_supporting_span() -> None:
    app = AppTest.from_function(_details_app).run(timeout=60)
    assert not app.exception
    assert [c.value for c in app.caption if "not found" in c.value] == [
        "⚠ not found in the sources: “It was painted gold in 1950 \\[1\\]\\.”"
    ]
    expander, details = app.expander
    assert expander.label == "\\[1\\] Tower · § History\\, line 3", "escaped: a title cannot be Markdown"
    assert details.label == "Details" and "similarity 0.800" in details.text[0].value
    html = "".join(e.proto.body for e in expander.children.values() if hasattr(getattr(e, "proto", None), "body"))
    assert '0 2px;">The tower was finished in 1889.</mark> It is 330' in html and html.count("<mark") == 1


def _withheld_app() -> None:
    """A refusal because the model's answer stood on no passage, drawn by the page's own show_details."""
    from app.ui.ask_page import show_details
    from pipelines.rag import Answer
    from pipelines.rag.prompt import Passage
    from pipelines.rag.refusal import REFUSAL_TEXT

    text = "Ninja is a small build system with a focus on speed."
    passage = Passage(1, "n", "/docs/ninja.html", "Ninja", text, 0, len(text), (1,), 0.7)
    raw = "The Ninja build system is distributed under the MIT license."
    show_details(Answer("Which license?", REFUSAL_TEXT, raw, [], [passage], True, "ungrounded", 0.64))


def _absent_app() -> None:
    """Refusals of a question naming a word that no indexed document holds: withheld, then by the gate."""
    from app.ui.ask_page import show_details
    from pipelines.rag import Answer
    from pipelines.rag.refusal import REFUSAL_TEXT

    raw = "The default compression level of lz4 is -6."
    show_details(Answer("lz4's level?", REFUSAL_TEXT, raw, [], [], True, "ungrounded", 0.64, absent=("lz4",)))
    show_details(Answer("lz4's level?", REFUSAL_TEXT, REFUSAL_TEXT, [], [], True, "low_evidence", 0.3,
                        absent=("lz4",)))


def test_a_refusal_names_the_word_no_document_holds() -> None:
    from app.ui.ask_page import REFUSED

    app = AppTest.from_function(_absent_app).run(timeout=60)
    assert not app.exception
    assert [w.value for w in app.warning] == [f'{REFUSED} No indexed document mentions "lz4".'] * 2


def test_a_withheld_answer_is_refused_in_plain_words_and_kept_under_details() -> None:
    from app.ui.ask_page import REFUSED

    app = AppTest.from_function(_withheld_app).run(timeout=60)
    assert not app.exception
    assert [w.value for w in app.warning] == [REFUSED]
    (details,) = app.expander
    assert details.label == "Details"
    assert "withheld: The Ninja build system is distributed under the MIT license." in details.text[0].value
    assert "ungrounded" not in " ".join(w.value for w in app.warning)
