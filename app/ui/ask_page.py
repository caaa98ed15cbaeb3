"""Ask page: chat over the index with streamed answers, numbered citations, refusals and latency figures."""

from __future__ import annotations

import html

import streamlit as st

from app.ui.resources import workspace
from app.ui.text import box
from pipelines.generation import DEFAULT_PRESET, PRESETS, GenerationConfig
from pipelines.rag import Answer, RAGPipeline

HISTORY = "ask_history"  # session-state key: list of (question, Answer)


def render() -> None:
    """Draw the page."""
    st.title("💬 Ask")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    preset, config, k = _controls()
    history: list[tuple[str, Answer]] = st.session_state.setdefault(HISTORY, [])
    for question, answer in history:
        _show_turn(question, answer)
    question = st.chat_input("Ask a question about your documents")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        answer = stream_answer(ws.rag(preset, None, config, k=k), question)
    history.append((question, answer))


def stream_answer(rag: RAGPipeline, question: str, where: dict[str, str] | None = None) -> Answer:
    """Stream the answer into the page, then show its citations and figures; returns the :class:`Answer`."""
    final: list[Answer] = []

    def pieces():  # text pieces for st.write_stream; the final Answer is kept aside
        for item in rag.stream(question, where=where):
            if isinstance(item, str):
                yield item
            else:
                final.append(item)

    st.write_stream(pieces())
    answer = final[-1]
    show_details(answer)
    return answer


def _controls() -> tuple[str, GenerationConfig, int]:
    with st.sidebar:
        st.subheader("Generation")
        preset = st.selectbox("Preset", list(PRESETS), index=list(PRESETS).index(DEFAULT_PRESET), key="ask_preset")
        temperature = st.slider("Temperature (0 = greedy)", 0.0, 2.0, 0.0, 0.05, key="ask_temperature")
        top_p = st.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="ask_top_p")
        top_k = st.number_input("Top-k (0 = off)", 0, 200, 0, key="ask_top_k")
        max_tokens = st.number_input("Max new tokens", 16, 1024, 256, 16, key="ask_max_tokens")
        k = st.number_input("Passages retrieved", 1, 20, 5, key="ask_k")
    config = GenerationConfig(temperature=temperature, top_p=top_p, top_k=int(top_k), max_new_tokens=int(max_tokens))
    return preset, config, int(k)


def _show_turn(question: str, answer: Answer) -> None:
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        if not answer.refused:
            st.text(answer.text)
        show_details(answer)


def show_details(answer: Answer) -> None:
    """Refusal notice, citations that expand to their passages, and the latency figures."""
    if answer.refused:
        st.warning(f"No answer: the documents do not seem to cover this ({answer.refusal_reason}).")
    for c in answer.citations:
        passage = next((p for p in answer.passages if p.number == c.number), None)
        with st.expander(f"[{c.number}] {c.title} · characters {c.start}–{c.end}"):
            st.caption(c.source)
            if passage is not None:
                st.html(box(html.escape(passage.text)))
    if answer.invalid_citations:
        st.caption(f"{answer.invalid_citations} reference(s) to passages that do not exist were removed.")
    m = answer.metrics
    if m is not None:
        st.caption(
            f"TTFT {m.ttft_s * 1000:.0f} ms · TPOT {m.tpot_s * 1000:.0f} ms · {m.tokens_per_s:.1f} tokens/s · "
            f"{m.prompt_tokens} prompt tokens"
        )
