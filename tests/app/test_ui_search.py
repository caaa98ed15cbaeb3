"""AppTest: the Search page over a tiny real index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import build_index, html_text, page_app

from app.ui.search_page import ANY_TOPIC
from app.workspace import Workspace
from pipelines.search import MODES

_TITLE = re.compile(r">(\d+)\. ([^<]*)</div>")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("search"))


@pytest.fixture()
def app(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    return page_app("app.ui.search_page").run()


def search(at: AppTest, query: str, mode: str = "hybrid", where: str = "", topic: str = ANY_TOPIC) -> AppTest:
    at.text_input(key="query").input(query)
    at.selectbox(key="mode").select(mode)
    at.text_input(key="where").input(where)
    at.selectbox(key="topic").select(topic)
    next(b for b in at.button if b.label == "Search").click()
    return at.run()


def titles(at: AppTest) -> list[str]:
    """Hit titles in rank order (as rendered, i.e. HTML-escaped)."""
    return [title for _, title in _TITLE.findall(html_text(at))]


def test_without_an_index_the_page_says_how_to_build_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(tmp_path / "nothing-here"))
    at = page_app("app.ui.search_page").run()
    assert not at.exception
    assert "No index at" in at.info[0].value and "Library" in at.info[0].value


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_ranks_the_matching_document_first(app: AppTest, mode: str) -> None:
    at = search(app, "cats purr and hunt mice", mode=mode)
    assert not at.exception and not at.error
    assert titles(at)[0] == "Cats"


def test_query_terms_are_highlighted_in_the_passage(app: AppTest) -> None:
    at = search(app, "how do cats hunt")
    page = html_text(at)
    assert "<mark>Cats</mark> are small carnivorous mammals" in page
    assert "<mark>hunt</mark> mice" in page
    assert "<mark>how</mark>" not in page  # a stop word is not a query term


def test_document_text_and_titles_are_escaped(app: AppTest) -> None:
    at = search(app, "escaping check script alert")
    page = html_text(at)
    assert titles(at)[0] == "Unsafe &lt;b&gt;title"
    assert "&lt;<mark>script</mark>&gt;" in page
    assert "<script" not in page and "<img" not in page and "<b>" not in page


def test_topic_selectbox_lists_topics_and_filters(app: AppTest) -> None:
    assert app.selectbox(key="topic").options == [ANY_TOPIC, "Animals", "Baking"]
    at = search(app, "bread", topic="Baking")
    assert sorted(titles(at)) == ["Baguette", "Sourdough"]


def test_computed_topics_are_offered_as_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = build_index(tmp_path)  # its own index: computing topics writes metadata
    topics = Workspace(index_dir).topics(n_topics=2, seed=0)
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.search_page").run()
    labels = {int(t.id): t.label for t in topics.model.topics_}
    assert at.selectbox(key="topic").options == [ANY_TOPIC, f"map 0: {labels[0]}", f"map 1: {labels[1]}",
                                                 "Animals", "Baking"]
    members = Workspace(index_dir).chunks(topics.members(1))
    at = search(at, "anything at all", mode="dense", topic=f"map 1: {labels[1]}")
    assert sorted(titles(at)) == sorted(r.title for r in members), "every member of the topic and nothing else"


def test_metadata_filter(app: AppTest) -> None:
    at = search(app, "hunt", where="topic=Animals")
    assert titles(at) == ["Penguins"]


def test_a_malformed_filter_is_an_error_message(app: AppTest) -> None:
    at = search(app, "hunt", where="topicAnimals")
    assert not at.exception
    assert "is not key=value" in at.error[0].value
    assert titles(at) == []


@pytest.mark.parametrize(
    "where,topic,needle",
    [
        ("1x=Animals", ANY_TOPIC, "filter key '1x' is not valid: start with a letter or '_'"),
        ("topic=Animals, topic=Baking", ANY_TOPIC, "'topic' is given twice ('Animals' and 'Baking')"),
        ("topic=Animals", "Baking", "'topic' is given twice ('Animals' and 'Baking')"),
    ],
)
def test_filters_no_chunk_could_match_are_error_messages(app: AppTest, where: str, topic: str, needle: str) -> None:
    at = search(app, "hunt", where=where, topic=topic)
    assert not at.exception
    assert needle in at.error[0].value
    assert titles(at) == []


def test_an_empty_query_asks_for_words(app: AppTest) -> None:
    at = search(app, "   ")
    assert "Type some words" in at.warning[0].value


def test_no_match_says_so(app: AppTest) -> None:
    at = search(app, "cats", where="topic=Nowhere")
    assert "No results" in at.warning[0].value


def test_opening_a_hit_shows_the_document_with_the_passage_marked(app: AppTest) -> None:
    at = search(app, "how do cats hunt")
    assert not html_text(at).count("passage at")
    next(b for b in at.button if b.key and b.key.startswith("open-")).click()
    at.run()
    page = html_text(at)
    assert "passage at 0–" in page
    assert '<mark style="background: #ffe08a; padding: 0 2px;"># <mark>Cats</mark>' in page
    assert at.toggle(key="document-whole").label == "Show from the beginning"
    assert titles(at)[0] == "Cats"  # the results are still there behind the dialog
