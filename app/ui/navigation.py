"""The app's navigation: section title → pages. A new page is one :func:`page` line in :func:`pages`
(its module in ``app/ui/`` exposes ``render()``); every page runs under :func:`show_errors`."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.ui import (
    ask_page,
    classify_page,
    evaluate_page,
    library_page,
    next_token_page,
    search_page,
    similarity_page,
    tokens_page,
    topics_page,
)
from app.ui.resources import show_errors


def page(render: Callable[[], None], title: str, icon: str, url_path: str | None = None) -> st.Page:
    """One navigation entry with a Material icon name; ``url_path`` None marks the default page (``/``)."""
    icon = f":material/{icon}:"
    if url_path is None:
        return st.Page(show_errors(render), title=title, icon=icon, default=True)
    return st.Page(show_errors(render), title=title, icon=icon, url_path=url_path)


def pages() -> dict[str, list[st.Page]]:
    """Sections and their pages, in sidebar order."""
    return {
        "Documents": [
            page(search_page.render, "Search", "search"),
            page(library_page.render, "Library", "library_books", "library"),
        ],
        "Ask": [
            page(ask_page.render, "Ask", "chat", "ask"),
            page(evaluate_page.render, "Evaluate", "fact_check", "evaluate"),
        ],
        "Label and map": [
            page(classify_page.render, "Classify", "label", "classify"),
            page(topics_page.render, "Topics", "scatter_plot", "topics"),
        ],
        "Under the hood": [
            page(tokens_page.render, "Tokens", "token", "tokens"),
            page(next_token_page.render, "Next token", "casino", "next-token"),
            page(similarity_page.render, "Similarity", "grid_on", "similarity"),
        ],
    }
