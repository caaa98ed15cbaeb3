"""The UI's pure helpers: safe highlighting, the document view, upload checks and saving (filters: tests/indexing)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from app.ui.text import document_html, highlight, token_chips
from app.ui.uploads import MAX_UPLOAD_MB, UPLOAD_TYPES, check_upload, default_upload_dir
from indexing.loaders import SUPPORTED_EXTENSIONS

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "&lt;already escaped&gt; & ampersands",
    "emoji 🙂 and RTL \u202e text",
    "",
    "x" * 10_000,
]


def _strip_ours(markup: str) -> str:
    """Remove the tags the helpers add; what is left must be plain escaped text."""
    return re.sub(r"</?mark[^>]*>", "", markup)


@pytest.mark.parametrize("text", HOSTILE)
def test_highlight_output_is_the_escaped_text_plus_only_mark_tags(text: str) -> None:
    out = highlight(text, ["script", "alert", "img", "emoji"])
    assert _strip_ours(out) == html.escape(text)
    assert html.unescape(_strip_ours(out)) == text


def test_highlight_matches_stems_whole_words_and_case() -> None:
    assert highlight("Hunting hunters hunt; shunt", ["hunt"]) == "<mark>Hunting</mark> hunters <mark>hunt</mark>; shunt"
    assert highlight("Cats and CATS", ["cat"]) == "<mark>Cats</mark> and <mark>CATS</mark>"
    assert highlight("nothing to mark", []) == "nothing to mark"


@pytest.mark.parametrize("text", HOSTILE[:4])
def test_document_html_escapes_and_marks_exactly_the_passage(text: str) -> None:
    doc = f"before {text} after"
    start, end = 7, 7 + len(text)
    out = document_html(doc, start, end, context=None)
    passage = re.search(r'<mark style="[^"]*">(.*)</mark>', out, flags=re.S)
    assert passage is not None and html.unescape(passage.group(1)) == text
    assert html.unescape(_strip_ours(out)) == doc


def test_document_html_starts_near_the_passage_unless_asked_for_all() -> None:
    doc = "a" * 1000 + "PASSAGE" + "b" * 10
    near = document_html(doc, 1000, 1007, context=20)
    assert near.startswith("…" + "a" * 20 + "<mark")
    assert document_html(doc, 1000, 1007, context=None).startswith("a" * 1000 + "<mark")
    assert "PASSAGE" in document_html(doc, 990, 2000)  # offsets past the end are clamped


def test_token_chips_escape_tokens_and_strike_those_past_the_limit() -> None:
    out = token_chips(["<s>", "a\nb", "c"], [1, 2, 3], limit=2)
    assert "&lt;s&gt;" in out and "<s>" not in out and "a↵b" in out
    assert out.count("line-through") == 1 and 'title="id 3"' in out


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("notes.md", 10, None),
        ("REPORT.PDF", 10, None),
        ("tool.exe", 10, "unsupported file type .exe"),  # images are read since the OCR loader
        ("Makefile", 10, "file without an extension"),
        ("../escape.md", 10, "not a plain file name"),
        (".hidden.txt", 10, "not a plain file name"),
        ("empty.txt", 0, "the file is empty"),
        ("big.csv", MAX_UPLOAD_MB * 1024 * 1024 + 1, f"over the {MAX_UPLOAD_MB} MB limit"),
    ],
)
def test_check_upload(name: str, size: int, reason: str | None) -> None:
    result = check_upload(name, size)
    assert result is None if reason is None else reason in (result or "")


def test_upload_types_are_the_loaders_extensions() -> None:
    assert sorted("." + t for t in UPLOAD_TYPES) == sorted(SUPPORTED_EXTENSIONS)


def test_default_upload_dir_sits_beside_the_index(tmp_path: Path) -> None:
    assert default_upload_dir(tmp_path / "data" / "index") == (tmp_path / "data" / "uploads").resolve()
