"""Topics page (AppTest) on a tiny real index: nothing is computed until asked, topics come from stored vectors,
the map is drawn, a topic picked, its documents listed, search and ask restricted to it (real SmolLM2 through
llama.cpp), and a rerun never asks the generator again."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import build_index, page_app

from app.ui.text import plain
from app.ui.topics_page import ANSWER_KEY, ASKED_KEY
from app.workspace import Workspace


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("topics"))


def press(at: AppTest, label: str, timeout: int = 180) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run(timeout=timeout)


def test_opening_the_page_computes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = build_index(tmp_path)
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.topics_page").run(timeout=180)
    assert not at.exception and not at.error
    assert at.info[0].value.startswith("No topics computed for this index yet")
    assert not at.get("plotly_chart")
    assert Workspace(index_dir).saved_topics() is None, "no topics were fitted or saved by opening the page"

    saved = Workspace(index_dir).topics(n_topics=2, seed=0)
    Workspace(index_dir).index([index_dir.parent / "docs"])  # unchanged: the topics stay fresh
    (index_dir.parent / "docs" / "owls.txt").write_text("Owls hunt mice at night and sleep by day.\n")
    Workspace(index_dir).index([index_dir.parent / "docs"])  # a new document: the saved topics are now stale
    at = page_app("app.ui.topics_page").run(timeout=180)
    assert not at.exception and not at.error
    assert at.warning[0].value.startswith(f"The index changed since these topics were computed (generation "
                                          f"{saved.generation}, now {saved.generation + 1})")
    after = Workspace(index_dir).saved_topics()
    assert after is not None and after.stale and after.model.timings_ == saved.model.timings_, "shown, not refitted"


def test_topics_map_pick_search_and_ask_within(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.topics_page")
    at.run(timeout=180)
    assert not at.exception and not at.error
    at.number_input(key="topics_n").set_value(2)
    at = press(at, "Compute topics")
    assert not at.exception and not at.error
    assert any(c.value.startswith("2 topics") and "outliers" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1, "the 2-D map is drawn"
    assert len(at.get("vega_lite_chart")) == 2, "topic sizes and the picked topic's keyword bars"
    topics = Workspace(index_dir).saved_topics()
    assert topics is not None
    at.run(timeout=120)
    rerun = Workspace(index_dir).saved_topics()
    assert rerun is not None and rerun.model.timings_ == topics.model.timings_, "a rerun does not refit"

    (pick,) = at.selectbox
    assert pick.value == 0, "the largest topic is picked by default"
    records = Workspace(index_dir).chunks(topics.members(0))
    listed = at.dataframe[0].value
    assert sorted(set(listed["title"])) == sorted({r.title for r in records})
    assert any(f"{len({r.doc_id for r in records})} documents" in c.value for c in at.caption)

    pick.set_value(1).run(timeout=120)
    assert at.selectbox[0].value == 1
    other = {r.title for r in Workspace(index_dir).chunks(topics.members(1))}
    assert set(at.dataframe[0].value["title"]) == other

    # Search within the topic returns only its members, on the form's button.
    first_title = sorted(other)[0]
    at.text_input(key="topics_query").input(first_title)
    at = press(at, "Search", 120)
    assert not at.exception and not at.error
    shown = [m.value for m in at.markdown if m.value.startswith("**")]
    assert shown, "hits are listed"
    assert all(any(f" {plain(t)}**" in s for t in other) for s in shown), "titles shown escaped"


@pytest.mark.slow
def test_an_answer_is_generated_on_the_button_and_kept_across_reruns(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    Workspace(index_dir).topics(n_topics=2, seed=0)
    at = page_app("app.ui.topics_page").run(timeout=180)
    topics = Workspace(index_dir).saved_topics()
    assert topics is not None and not at.exception and not at.error
    title = sorted(r.title for r in Workspace(index_dir).chunks(topics.members(0)))[0]
    question = f"What is {title}?"
    at.text_input(key="topics_question").input(question).run(timeout=120)
    assert ASKED_KEY not in at.session_state and ANSWER_KEY not in at.session_state, "typing alone asks nothing"

    at.text_input(key="topics_question").input(question)
    at = press(at, "Ask", 300)
    assert not at.exception and not at.error
    assert at.session_state[ASKED_KEY] == 1
    answer = at.session_state[ANSWER_KEY][1]
    assert answer.metrics is not None and answer.metrics.completion_tokens > 0, "the generator answered"

    at.text_input(key="topics_query").input("unrelated words, not submitted").run(timeout=120)
    at.run(timeout=120)
    assert not at.exception and not at.error
    assert at.session_state[ASKED_KEY] == 1, "two reruns with the question still typed: the generator was not called"
    assert at.session_state[ANSWER_KEY][1] is answer
    assert any(m.value == plain(answer.text) for m in at.markdown), "the kept answer is shown again, escaped"
