"""Ask page: a conversation over the index with streamed answers, numbered citations, refusals and latency
figures. Follow-ups are rewritten to stand alone for retrieval ("searched for: …") and answered with the
earlier turns in the prompt; "New conversation" clears the thread."""

from __future__ import annotations

from collections.abc import Iterator

import streamlit as st

from app.ui.resources import workspace
from app.ui.text import box, marked_spans
from pipelines.generation import PRESETS, GenerationConfig
from pipelines.generation.presets import default_preset
from pipelines.rag import Answer, RAGPipeline
from pipelines.rag.answer_length import ANSWER_LENGTHS, DEFAULT_ANSWER_LENGTH
from pipelines.rag.conversation import REWRITE_MODES, Conversation, Exchange, make_rewriter

HISTORY = "ask_history"  # session-state key: list of (question, Answer), one per turn of the thread
THREAD = "ask_thread"  # session-state key: list of Exchange (question, standalone query, answer)


def render() -> None:
    """Draw the page."""
    st.title("💬 Ask")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    preset, config, k, rewrite, length = _controls()
    thread: list[Exchange] = st.session_state.setdefault(THREAD, [])
    if st.sidebar.button("New conversation", key="ask_new", disabled=not thread):
        thread.clear()
    for exchange in thread:
        _show_turn(exchange)
    question = st.chat_input("Ask a question about your documents")
    if question:
        rag = ws.rag(preset, None, config, k=k, answer_length=length)
        chat = Conversation(rag, make_rewriter(rewrite, rag.generator), thread)
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            items = chat.stream(question)
            _show_query(question, chat.last_query)
            stream_answer(items)
    st.session_state[HISTORY] = [(e.question, e.result) for e in thread]


def _show_query(question: str, query: str | None) -> None:
    if query is not None and query.strip() != question.strip():
        st.caption(f"searched for: {query}")


def stream_answer(source: RAGPipeline | Iterator[str | Answer], question: str = "",
                  where: dict[str, str] | None = None) -> Answer:
    """Stream an answer into the page, then show its citations and figures; returns the :class:`Answer`.

    Args:
        source: a pipeline to ask ``question``, or the items of a stream already started
            (``Conversation.stream``): text pieces, then the Answer.
    """
    items = source.stream(question, where=where) if isinstance(source, RAGPipeline) else source
    final: list[Answer] = []

    def pieces():  # text pieces for st.write_stream; the final Answer is kept aside
        for item in items:
            if isinstance(item, str):
                yield item
            else:
                final.append(item)

    st.write_stream(pieces())
    answer = final[-1]
    show_details(answer)
    return answer


def _controls() -> tuple[str, GenerationConfig, int, str, str]:
    with st.sidebar:
        st.subheader("Generation")
        preset = st.selectbox("Preset", list(PRESETS), index=list(PRESETS).index(default_preset()),
                              key="ask_preset")
        temperature = st.slider("Temperature (0 = greedy)", 0.0, 2.0, 0.0, 0.05, key="ask_temperature")
        top_p = st.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="ask_top_p")
        top_k = st.number_input("Top-k (0 = off)", 0, 200, 0, key="ask_top_k")
        max_tokens = st.number_input("Max new tokens", 16, 1024, 256, 16, key="ask_max_tokens")
        k = st.number_input("Passages retrieved", 1, 20, 5, key="ask_k")
        rewrite = st.selectbox("Follow-ups searched as", list(REWRITE_MODES), key="ask_rewrite",
                               help="heuristic: bring in the previous turn's subject; generator: ask the model to "
                               "rewrite the follow-up; none: search with the question as typed")
        length = st.selectbox("Answer length", list(ANSWER_LENGTHS), key="ask_length",
                              index=ANSWER_LENGTHS.index(DEFAULT_ANSWER_LENGTH),
                              help="brief: one or two sentences; explain: a short paragraph; auto: explain "
                              "how/why questions, answer the others briefly")
    config = GenerationConfig(temperature=temperature, top_p=top_p, top_k=int(top_k), max_new_tokens=int(max_tokens))
    return preset, config, int(k), rewrite, length


def _show_turn(exchange: Exchange) -> None:
    with st.chat_message("user"):
        st.text(exchange.question)
    with st.chat_message("assistant"):
        _show_query(exchange.question, exchange.query)
        answer = exchange.result
        if answer is None:
            return
        if not answer.refused:
            st.text(answer.text)
        show_details(answer)


def show_details(answer: Answer) -> None:
    """Refusal notice, unsupported sentences, citations that expand to their passages with the supporting
    spans marked, and the latency figures."""
    if answer.refused:
        st.warning(f"No answer: the documents do not seem to cover this ({answer.refusal_reason}).")
    support = answer.support.sentences if answer.support is not None else []
    for s in (s for s in support if s.checked and not s.supported):
        st.caption(f"⚠ not found in the sources: “{s.sentence.strip()}”")
    for c in answer.citations:
        passage = next((p for p in answer.passages if p.number == c.number), None)
        place = c.location.label if c.location is not None and c.location.label else f"characters {c.start}–{c.end}"
        with st.expander(f"[{c.number}] {c.title} · {place}"):
            st.caption(c.source)
            if passage is not None:
                spans = [(s.span_start, s.span_end) for s in support if s.supported and s.passage == c.number]
                st.html(box(marked_spans(passage.text, spans)))
    if answer.citations_moved:
        st.caption(f"Citations of {answer.citations_moved} sentence(s) now point at the passage that supports them.")
    if answer.invalid_citations:
        st.caption(f"{answer.invalid_citations} reference(s) to passages that do not exist were removed.")
    m = answer.metrics
    if m is not None:
        st.caption(
            f"TTFT {m.ttft_s * 1000:.0f} ms · TPOT {m.tpot_s * 1000:.0f} ms · {m.tokens_per_s:.1f} tokens/s · "
            f"{m.prompt_tokens} prompt tokens"
        )
