"""Search page: query, mode, k, metadata and topic filters; hits with the query terms highlighted and
the full document opened at the passage.

Document text is shown only through :mod:`app.ui.text`, which escapes it before adding ``<mark>``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import streamlit as st

from app.ui.resources import topic_filters, workspace
from app.ui.text import box, document_html, highlight
from app.workspace import Workspace
from indexing.datatypes import Hit
from indexing.errors import SiftError
from indexing.filters import merge_filters, parse_filter_text
from pipelines.search import MODES

RESULTS_KEY = "search_results"
ANY_TOPIC = "(any topic)"


@dataclass
class Results:
    """The last search of this session (kept so that opening a document does not lose the hits)."""

    query: str
    hits: list[Hit]
    terms: list[str] = field(default_factory=list)


def render() -> None:
    """Draw the page."""
    st.title("Search")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page (or `sift index PATH`).")
        return
    topics = topic_filters(str(ws.index_dir), ws.generation)
    with st.form("search"):
        query = st.text_input("Query", key="query", placeholder="e.g. how do cats hunt")
        cols = st.columns([1, 1, 2, 2] if topics else [1, 1, 2])
        mode = cols[0].selectbox("Mode", MODES, index=MODES.index("hybrid"), key="mode")
        k = cols[1].number_input("Results", min_value=1, max_value=100, value=10, key="k")
        where_text = cols[2].text_input("Filter (key=value, …)", key="where", placeholder="e.g. topic=Arts")
        topic = cols[3].selectbox("Topic", [ANY_TOPIC, *topics], key="topic") if topics else ANY_TOPIC
        topic_where = topics.get(topic, {})
        submitted = st.form_submit_button("Search", type="primary")
    if submitted:
        _run(ws, query, mode, int(k), where_text, topic_where)
    _show(st.session_state.get(RESULTS_KEY))


def _run(ws: Workspace, query: str, mode: str, k: int, where_text: str, topic_where: dict[str, str]) -> None:
    st.session_state.pop(RESULTS_KEY, None)
    if not query.strip():
        st.warning("Type some words to search for.")
        return
    try:
        where = merge_filters(parse_filter_text(where_text), topic_where)  # typed and menu filters must agree
        hits = ws.search(query, k=k, mode=mode, where=where)
        terms = ws.searcher.query_terms(query)
    except SiftError as exc:
        st.error(str(exc))
        return
    st.session_state[RESULTS_KEY] = Results(query, hits, terms)


def _show(results: Results | None) -> None:
    if results is None:
        return
    if not results.hits:
        st.warning(f"No results for {results.query!r}: try other words, another mode or fewer filters.")
        return
    st.caption(f"{len(results.hits)} results for {results.query!r}")
    for hit in results.hits:
        _hit_card(hit, results.terms)


def _hit_card(hit: Hit, terms: list[str]) -> None:
    with st.container(border=True):
        meta = " · ".join(f"{k}={v}" for k, v in sorted(hit.meta.items()) if k not in ("description", "page_starts"))
        st.html(
            f'<div style="font-weight: 600; font-size: 1.05rem;">{hit.rank}. {html.escape(hit.title)}</div>'
            f'<div style="opacity: 0.7; font-size: 0.85rem;">{html.escape(hit.source)} · characters '
            f"{hit.start}–{hit.end} · score {hit.score:.4f}{' · ' + html.escape(meta) if meta else ''}</div>"
        )
        st.html(box(highlight(hit.text, terms)))
        if st.button("Open the document at this passage", key=f"open-{hit.chunk_id}"):
            _document(hit, terms)


@st.dialog("Document", width="large")
def _document(hit: Hit, terms: list[str]) -> None:
    """The full document, opened at the passage (marked), query terms highlighted."""
    doc = workspace().document(hit.doc_id)
    if doc is None:
        st.warning("This document is no longer in the index: search again.")
        return
    st.html(
        f'<div style="font-weight: 600; font-size: 1.1rem;">{html.escape(doc.title)}</div>'
        f'<div style="opacity: 0.7; font-size: 0.85rem;">{html.escape(doc.source)} · {len(doc.text):,} characters'
        f" · passage at {hit.start:,}–{hit.end:,}</div>"
    )
    whole = st.toggle("Show from the beginning", key="document-whole")
    with st.container(height=480 if len(doc.text) > 1500 else "content"):
        st.html(box(document_html(doc.text, hit.start, hit.end, terms, context=None if whole else 400)))
