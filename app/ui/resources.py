"""Process-wide cached resources for the UI (models and indexes load once, shared across sessions)
and the error guard every page runs under."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import streamlit as st

from app.settings import Settings
from app.workspace import Workspace
from indexing.errors import SiftError
from pipelines.inspection import GeneratorInspector, default_generator_model


@st.cache_resource(show_spinner="Opening the index and loading the embedding model…")
def get_workspace(index_dir: str) -> Workspace:
    """One Workspace per index directory; its store re-reads new generations on each query."""
    ws = Workspace(index_dir)
    if ws.exists():
        ws.embedder.warm_up(queries=True)
    return ws


def workspace() -> Workspace:
    """The Workspace for the configured index (``$SIFT_INDEX``, ``sift.toml`` or ``data/index``)."""
    return get_workspace(str(Settings.load().index_dir.expanduser().resolve()))


@st.cache_resource(show_spinner="Finding the generator model…")
def get_generator_inspector() -> GeneratorInspector:
    """The generator's tokenizer and logits (llama.cpp); weights load on first use."""
    return GeneratorInspector(*default_generator_model())


@st.cache_data(show_spinner="Running the generator on the prompt…", max_entries=32)
def next_token_logits(prompt: str) -> np.ndarray:
    """Next-token logits for ``prompt`` (cached per prompt: the sampling controls reuse them)."""
    return get_generator_inspector().next_token_logits(prompt)


@st.cache_data(ttl=30, show_spinner=False)
def topic_filters(index_dir: str, generation: int) -> dict[str, dict[str, str]]:
    """Topic filter menu → the metadata filter each entry means (cached per index generation, 30 s).

    Entries are the computed topics saved with the index (``map 3: cats, mice``→ ``topic_id=3``), then
    the distinct values of a ``topic`` field the documents carry themselves (``Arts`` → ``topic=Arts``).
    """
    ws = get_workspace(index_dir)
    filters: dict[str, dict[str, str]] = {}
    saved = ws.saved_topics()
    if saved is not None and not saved.stale:
        for t in saved.model.topics_:
            if t.id >= 0:
                filters[f"map {t.id}: {t.label}"] = {"topic_id": str(t.id)}
    for value in sorted(v for v in ws.meta_values("topic") if v):
        filters[value] = {"topic": value}
    return filters


def show_errors(render: Callable[[], None]) -> Callable[[], None]:
    """Run a page so that a :class:`SiftError` it lets through shows as ``st.error``, never a traceback."""

    @functools.wraps(render)
    def page() -> None:
        try:
            render()
        except SiftError as exc:
            st.error(str(exc))

    return page
