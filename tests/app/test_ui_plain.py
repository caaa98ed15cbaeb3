"""Nothing from a document makes the browser fetch: Markdown elements show document-derived text escaped
(:func:`app.ui.text.plain`), checked by rendering each element's body with a CommonMark renderer."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest
from ui_testkit import page_app, write_corpus

from app.ui.text import plain
from app.workspace import Workspace

PIXEL = "![x](http://127.0.0.1:9/pixel.png)"
IMG = '<img src="http://127.0.0.1:9/img.png">'
MARKDOWN = MarkdownIt("commonmark")  # raw HTML on: a tag that survived escaping would show up as a tag
MARKDOWN_ELEMENTS = ("markdown", "caption", "subheader", "title", "header", "info", "warning", "error", "success")


def _fetching(body: str) -> bool:
    """True when ``body`` rendered as Markdown holds an element a browser would load (an image, raw HTML)."""
    rendered = MARKDOWN.render(body)
    return "<img" in rendered or "<script" in rendered or "<iframe" in rendered


def test_the_check_sees_a_raw_image_and_tag() -> None:
    assert _fetching(PIXEL) and _fetching(IMG) and _fetching(f"**{PIXEL}**")


@pytest.mark.parametrize("text", [PIXEL, IMG, f"**{PIXEL}**", "[a](javascript:x) <http://127.0.0.1:9/>",
                                  "\\" + PIXEL, ":red[x] $y$ `z` # h", "1. one\n- two\n> three"])
def test_plain_text_renders_as_the_text(text: str) -> None:
    assert not _fetching(plain(text))
    for line in text.splitlines():
        assert html.unescape(MARKDOWN.renderInline(plain(line))) == line


# One line of printable text (CommonMark replaces NUL and splits lines at control characters, on purpose).
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40))
def test_plain_shows_any_line_exactly(line: str) -> None:
    assert html.unescape(MARKDOWN.renderInline(plain(line))) == line


@given(st.text(max_size=20), st.text(max_size=20))
def test_plain_streams_piece_by_piece(a: str, b: str) -> None:
    assert plain(a) + plain(b) == plain(a + b)


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UI corpus plus documents whose titles are a remote image and an HTML image tag."""
    root = tmp_path_factory.mktemp("hostile")
    docs = write_corpus(root / "docs")
    rows = [{"title": PIXEL, "text": "Pixel trackers hide in the images of documents and report each view."},
            {"title": IMG, "text": "Pixel trackers are also planted as HTML image tags inside notes."}]
    (docs / "hostile.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    Workspace(root / "index").index([docs])
    return root / "index"


def _markdown_bodies(at: AppTest) -> list[str]:
    return [str(e.value) for kind in MARKDOWN_ELEMENTS for e in at.get(kind)]


@pytest.mark.slow  # clusters a real index (UMAP's first run compiles)
def test_topics_page_shows_hostile_titles_as_text(hostile_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(hostile_index))
    ws = Workspace(hostile_index)
    topics = ws.topics(n_topics=2, seed=0)
    hostile = next(t for t in topics.model.topics_ if t.id >= 0
                   if PIXEL in {r.title for r in ws.chunks(topics.members(t.id))})
    at = page_app("app.ui.topics_page").run(timeout=180)
    assert not at.exception and not at.error
    at.selectbox[0].set_value(int(hostile.id)).run(timeout=120)
    at.text_input(key="topics_query").input("pixel trackers in images")
    next(b for b in at.button if b.label == "Search").click()
    at.run(timeout=120)
    assert not at.exception and not at.error

    hits = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any(f" {plain(PIXEL)}**" in h for h in hits), "the hostile title is listed, escaped"
    assert any(s.value == f"Topic {hostile.id}: {plain(hostile.label)}" for s in at.subheader)
    bodies = _markdown_bodies(at)
    assert bodies and not [b for b in bodies if _fetching(b)], "no Markdown element renders an image or HTML"
    assert not any(PIXEL in b or IMG in b for b in bodies), "never passed to Markdown unescaped"

    chart = at.get("plotly_chart")[0].proto.spec  # plotly renders some HTML in legends and tooltips
    strings = _strings(json.loads(chart)["data"])
    assert html.escape(IMG) in strings, "the hostile title is in the map's tooltips, escaped"
    assert not [s for s in strings if "<img" in s or "<a " in s], "no tag reaches plotly"


def _strings(value: object) -> set[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value))
    return set()
