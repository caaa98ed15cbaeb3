"""Search page: query, mode, k and a metadata filter; hits with title, source, score and passage."""

from __future__ import annotations

import streamlit as st

from app.ui.resources import get_workspace
from indexing.errors import SiftError
from pipelines.search import MODES


def render() -> None:
    """Draw the page."""
    st.title("🔎 Search")
    ws = get_workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: run `make run` or `sift index PATH`.")
        return
    with st.form("search"):
        query = st.text_input("Query", key="query")
        cols = st.columns(3)
        mode = cols[0].selectbox("Mode", MODES, index=MODES.index("hybrid"), key="mode")
        k = cols[1].number_input("Results", min_value=1, max_value=100, value=10, key="k")
        where_text = cols[2].text_input("Filter (key=value)", key="where")
        submitted = st.form_submit_button("Search")
    if not submitted or not query.strip():
        return
    try:
        where = _parse_where(where_text)
        hits = ws.search(query, k=int(k), mode=mode, where=where)
    except SiftError as exc:
        st.error(str(exc))
        return
    if not hits:
        st.warning("No results.")
    for hit in hits:
        with st.container(border=True):
            st.markdown(f"**{hit.rank}. {_escape(hit.title)}** · score `{hit.score:.4f}`")
            st.caption(f"{hit.source} · characters {hit.start}–{hit.end}")
            st.text(hit.text)


def _parse_where(text: str) -> dict[str, str] | None:
    if not text.strip():
        return None
    key, sep, value = text.partition("=")
    if not sep:
        raise SiftError(f"filter {text!r} is not key=value (e.g. topic=Arts)")
    return {key.strip(): value.strip()}


def _escape(text: str) -> str:
    """Markdown-escape document text so it is never rendered as markup."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>" else ch for ch in text)
