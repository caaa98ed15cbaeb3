"""Under the hood · Tokens: how the embedding model and the generator cut the same text into tokens."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui.resources import get_generator_inspector, workspace
from app.ui.text import token_chips
from pipelines.inspection import TokenView, embedding_tokens

SAMPLE = "The Eiffel Tower is a wrought-iron lattice tower in Paris, finished in 1889. Ça coûte 25 € 🙂"


def render() -> None:
    """Draw the page."""
    st.title("Tokens")
    st.caption(
        "Models read tokens, not characters: pieces of words from a fixed vocabulary. The two models "
        "here have different vocabularies, so the same text costs a different number of tokens."
    )
    text = st.text_area("Text", value=SAMPLE, key="tokens_text", height=110)
    left, right = st.columns(2)
    with left:
        _embedding_view(text)
    with right:
        _generator_view(text)


def _embedding_view(text: str) -> None:
    ws = workspace()
    embedder = ws.embedder
    view = embedding_tokens(embedder, text)
    st.subheader("Embedding model")
    st.caption(f"{embedder.name} · WordPiece; [CLS] and [SEP] are added around every text")
    _count(view, "the most it reads (max_seq_length)")
    if view.over_limit:
        st.warning(
            f"The embedding model reads only the first {view.limit} tokens; the rest (struck through) would be "
            "ignored. That is why documents are cut into chunks before they are embedded."
        )
    manifest = ws.manifest
    if manifest is not None:
        st.caption(
            f"This index cuts documents into chunks of ≤ {manifest.chunk_size} tokens "
            f"({manifest.chunk_overlap} shared between neighbours)."
        )
    _tokens(view)


def _generator_view(text: str) -> None:
    inspector = get_generator_inspector()
    view = inspector.tokenize(text)
    st.subheader("Generator")
    st.caption(f"{inspector.model_path.name} · byte-level BPE (a leading space belongs to the token)")
    _count(view, "its context window (prompt + answer)")
    if view.over_limit:
        st.warning(f"This text alone does not fit the generator's {view.limit}-token context window.")
    _tokens(view)


def _count(view: TokenView, limit_name: str) -> None:
    share = view.count / view.limit if view.limit else 1.0
    st.progress(min(share, 1.0), text=f"**{view.count:,} tokens** of {view.limit:,}, {limit_name}")


def _tokens(view: TokenView) -> None:
    st.html(token_chips(view.tokens, view.ids, view.limit))
    with st.expander("Token ids"):
        st.dataframe(pd.DataFrame({"token": view.tokens, "id": view.ids}), hide_index=False, width="stretch")
