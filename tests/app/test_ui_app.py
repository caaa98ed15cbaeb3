"""The entry script opens the default page (Search); the navigation lists every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui_testkit import TIMEOUT

ENTRY = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def test_entry_opens_search_without_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_INDEX", str(tmp_path / "index"))
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Search"
    assert "No index at" in at.info[0].value


def _list_pages() -> None:
    import streamlit as st

    from app.ui.navigation import pages

    for section, group in pages().items():
        for entry in group:
            st.text(f"{section} | {entry.title} | /{entry.url_path}")


def test_navigation_lists_every_page_once() -> None:
    at = AppTest.from_function(_list_pages).run()
    assert [t.value for t in at.text] == [
        "Documents | Search | /",  # the default page is served at the root
        "Documents | Library | /library",
        "Ask | Ask | /ask",
        "Ask | Evaluate | /evaluate",
        "Label and map | Classify | /classify",
        "Label and map | Topics | /topics",
        "Under the hood | Tokens | /tokens",
        "Under the hood | Next token | /next-token",
        "Under the hood | Similarity | /similarity",
    ]
