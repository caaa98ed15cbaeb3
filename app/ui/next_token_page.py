"""Under the hood · Next token: the generator's distribution over its next token, and how temperature,
top-k and top-p reshape it before a token is drawn."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app.ui.resources import get_generator_inspector, next_token_logits
from pipelines.inspection import reshape_distribution, softmax, top_indices

SAMPLE = "The capital of France is"
SHOWN = 10


def render() -> None:
    """Draw the page."""
    st.title("Next token")
    st.caption(
        "A language model writes one token at a time: for the text so far it scores every token in its "
        "vocabulary, the scores become probabilities, and one token is drawn."
    )
    prompt = st.text_area("Prompt", value=SAMPLE, key="next_prompt", height=90)
    logits = next_token_logits(prompt)
    base = softmax(logits)
    st.subheader(f"The {SHOWN} likeliest next tokens")
    st.dataframe(_table(base, top_indices(base, SHOWN)), hide_index=True, width="stretch")
    st.subheader("Sampling controls")
    temperature, top_k, top_p = _controls()
    shaped = reshape_distribution(logits, temperature, top_k, top_p)
    st.caption(
        f"{int(np.count_nonzero(shaped)):,} of {len(shaped):,} tokens can be drawn. Order as in llama.cpp: "
        "top-k, then top-p, then temperature."
    )
    st.plotly_chart(_chart(base, shaped), width="stretch")


def _controls() -> tuple[float, int, float]:
    """Temperature, top-k and top-p, side by side (defaults: common chat settings)."""
    cols = st.columns(3)
    help_t = "0 always takes the likeliest token; below 1 sharpens, above 1 flattens."
    temperature = cols[0].slider("Temperature", 0.0, 2.0, 0.7, 0.05, key="temperature", help=help_t)
    help_k = "Keep only the k likeliest tokens."
    top_k = int(cols[1].number_input("Top-k (0 = off)", 0, 1000, 40, key="top_k", help=help_k))
    help_p = "Keep the fewest likeliest tokens whose probabilities add up to p."
    top_p = cols[2].slider("Top-p", 0.05, 1.0, 0.95, 0.05, key="top_p", help=help_p)
    return float(temperature), top_k, float(top_p)


def _label(token_id: int) -> str:
    return repr(get_generator_inspector().token_text(token_id))


def _table(probs: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "token": [_label(int(i)) for i in ids],
            "id": [int(i) for i in ids],
            "probability": [round(float(probs[i]), 4) for i in ids],
        }
    )


def _chart(base: np.ndarray, shaped: np.ndarray) -> go.Figure:
    """Grouped bars: the likeliest tokens before and after sampling controls."""
    ids = list(dict.fromkeys([*top_indices(base, SHOWN), *top_indices(shaped, SHOWN)]))
    ids.sort(key=lambda i: -base[i])
    labels = [f"{html.escape(_label(int(i)))} #{int(i)}" for i in ids]
    frame = pd.DataFrame(
        {
            "token": labels * 2,
            "probability": [float(base[i]) for i in ids] + [float(shaped[i]) for i in ids],
            "distribution": ["model (temperature 1)"] * len(ids) + ["after the controls"] * len(ids),
        }
    )
    fig = px.bar(frame, x="token", y="probability", color="distribution", barmode="group")
    fig.update_layout(height=420, legend_title_text="", margin={"t": 30}, xaxis_title="", yaxis_range=[0, 1])
    return fig
