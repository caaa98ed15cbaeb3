"""Under the hood · Similarity: cosine similarity between a few texts under the embedding model."""

from __future__ import annotations

import html

import numpy as np
import plotly.express as px
import streamlit as st

from app.ui.resources import workspace
from pipelines.inspection import cosine_matrix

SAMPLE = (
    "A cat sleeps on the sofa.\n"
    "A kitten naps on the couch.\n"
    "The stock market fell sharply today.\n"
    "Shares dropped at the close of trading.\n"
    "Bread rises before it is baked."
)
MAX_TEXTS = 12


def render() -> None:
    """Draw the page."""
    st.title("Similarity")
    st.caption(
        "Search compares meanings as vectors: each text becomes one point, and the cosine of the angle "
        "between two points says how alike they are (1 = same direction, 0 = unrelated)."
    )
    raw = st.text_area("Texts, one per line", value=SAMPLE, key="similarity_texts", height=150)
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(texts) > MAX_TEXTS:
        st.warning(f"Only the first {MAX_TEXTS} lines are compared.")
        texts = texts[:MAX_TEXTS]
    embedder = workspace().embedder
    matrix = cosine_matrix(embedder, texts)
    labels = [f"{i + 1}. {html.escape(_short(t))}" for i, t in enumerate(texts)]
    fig = px.imshow(
        matrix, x=labels, y=labels, zmin=-1, zmax=1, color_continuous_scale="RdBu", text_auto=".2f", aspect="auto"
    )
    fig.update_layout(height=140 + 60 * len(texts), margin={"t": 30}, coloraxis_colorbar_title="cosine")
    st.plotly_chart(fig, width="stretch")
    i, j = _closest_pair(matrix)
    st.caption(f"Embedding model: {embedder.name}. Closest pair: {i + 1} and {j + 1} ({matrix[i, j]:.2f}).")


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _closest_pair(matrix: np.ndarray) -> tuple[int, int]:
    """The two different texts with the highest cosine (the diagonal is ignored)."""
    off = matrix - 2 * np.eye(len(matrix))
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    return int(i), int(j)
