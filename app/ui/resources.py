"""Process-wide cached resources for the UI (models and indexes load once, shared across sessions)."""

from __future__ import annotations

import streamlit as st

from app.workspace import Workspace


@st.cache_resource(show_spinner="Opening the index and loading the embedding model…")
def get_workspace(index_dir: str | None = None) -> Workspace:
    """One Workspace per index directory; its store re-reads new generations on each query."""
    ws = Workspace(index_dir)
    if ws.exists():
        ws.embedder.warm_up()
    return ws
