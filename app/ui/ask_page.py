"""Ask page: a conversation over the index with streamed answers, numbered citations, refusals and latency
figures. Follow-ups are rewritten to stand alone for retrieval ("searched for: …") and answered with the
earlier turns in the prompt; "New conversation" clears the thread. The page only translates its controls into
:class:`~pipelines.options.AskOptions` and shows :meth:`Workspace.converse`'s events: answers and passages are
shown as plain text, so nothing a document or the model writes can make the browser fetch anything."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from app.admission import Admitted, Ticket, admission_for
from app.ui.resources import workspace
from app.ui.text import box, marked_spans, plain
from app.workspace import Workspace
from indexing.errors import BusyError
from pipelines.generation import PRESETS
from pipelines.generation.presets import default_preset
from pipelines.options import AskOptions
from pipelines.rag import Answer
from pipelines.rag.answer_length import ANSWER_LENGTHS, DEFAULT_ANSWER_LENGTH
from pipelines.rag.conversation import REWRITE_MODES, Exchange
from pipelines.rag.events import AskEvent, Done, Retrieved, Token
from pipelines.rag.refusal import absent_note
from pipelines.rag.second_look import NOTES as SECOND_LOOK_NOTES

HISTORY = "ask_history"  # session-state key: list of (question, Answer), one per turn of the thread
THREAD = "ask_thread"  # session-state key: list of Exchange (question, standalone query, answer)
REFUSED = "No answer: the indexed documents do not seem to cover this question."


def render() -> None:
    """Draw the page."""
    st.title("💬 Ask")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    options = _controls()
    thread: list[Exchange] = st.session_state.setdefault(THREAD, [])
    if st.sidebar.button("New conversation", key="ask_new", disabled=not thread):
        thread.clear()
    for exchange in thread:
        _show_turn(exchange)
    question = st.chat_input("Ask a question about your documents")
    if question:
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            events = admitted(ws, thread, question, options)
            if events is not None:
                stream_answer(events, question)
    st.session_state[HISTORY] = [(e.question, e.result) for e in thread]


def admitted(ws: Workspace, thread: list[Exchange], question: str, options: AskOptions) -> Iterator[AskEvent] | None:
    """The answer's events once its turn comes in the Workspace's queue (:func:`turn`), or None."""
    ticket = turn(ws)
    if ticket is None:
        return None
    try:
        return Admitted(ws.converse(thread, question, options), ticket)
    except BaseException:  # a failed retrieval
        ticket.release()
        raise


def turn(ws: Workspace, what: str = "Your answer", again: str = "Ask again") -> Ticket | None:
    """A served ticket of the Workspace's generator queue (:mod:`app.admission`), or None when it is full.

    Other sessions of this process share the generator: while answers are ahead the page says how many
    (updated every half second; a click ends the wait and gives the place back); past the queue's bound it
    says so at once and the caller generates nothing. The caller releases the ticket when done.
    """
    try:
        ticket = admission_for(ws).acquire()
    except BusyError as exc:
        st.warning(f"Busy: {exc.ahead} ahead of you, and no more may wait. {again} in about "
                   f"{exc.retry_after_s} s.")
        return None
    try:
        notice = st.empty()
        while not ticket.wait(timeout=0.5):
            notice.warning(f"Busy: {ticket.ahead} ahead of you. {what} starts when they are done.")
        notice.empty()
        return ticket
    except BaseException:  # a rerun or Stop while waiting
        ticket.release()
        raise


def _show_query(question: str, query: str | None) -> None:
    if query is not None and query.strip() != question.strip():
        st.caption(f"searched for: {plain(query)}")


def stream_answer(events: Iterator[AskEvent], question: str = "") -> Answer:
    """Show an answer's text as it streams (plain text), then its citations and figures; returns the Answer.

    A rerun of the page while it streams (any click, the Stop button of the page's status area) ends the
    script here, which closes ``events`` and so stops the generation.
    """
    placeholder, text, final = None, "", None
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, Retrieved):
                if question:
                    _show_query(question, event.query)
                placeholder = st.empty()
            elif isinstance(event, Token):
                text += event.text
                if placeholder is not None:
                    placeholder.text(text)
            elif isinstance(event, Done):
                final = event.answer
    assert final is not None  # the events always end with the answer
    if final.refused and placeholder is not None:
        placeholder.empty()
    show_details(final)
    return final


def _controls() -> AskOptions:
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
    return workspace().ask_options(preset=preset, temperature=temperature, top_p=top_p, top_k=int(top_k),
                                   max_tokens=int(max_tokens), k=int(k), rewrite=rewrite, answer_length=length)


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
    spans marked, latency figures; the checks' bookkeeping goes in a "Details" expander."""
    if answer.refused:
        note = absent_note(answer.absent)
        st.warning(f"{REFUSED} {note[:1].upper()}{note[1:]}." if note else REFUSED)
    support = answer.support.sentences if answer.support is not None else []
    for s in (s for s in support if s.checked and not s.supported):
        st.caption(f"⚠ not found in the sources: “{plain(s.sentence.strip())}”")
    for c in answer.citations:
        passage = next((p for p in answer.passages if p.number == c.number), None)
        place = c.location.label if c.location is not None and c.location.label else f"characters {c.start}–{c.end}"
        with st.expander(f"\\[{c.number}\\] {plain(c.title)} · {plain(place)}"):
            st.text(c.source)
            if passage is not None:
                spans = [(s.span_start, s.span_end) for s in support if s.supported and s.passage == c.number]
                st.html(box(marked_spans(passage.text, spans)))
    if answer.finish_reason == "length":
        st.caption("The answer was cut at the token budget (Max new tokens).")
    m = answer.metrics
    if m is not None:
        st.caption(
            f"TTFT {m.ttft_s * 1000:.0f} ms · TPOT {m.tpot_s * 1000:.0f} ms · {m.tokens_per_s:.1f} tokens/s · "
            f"{m.prompt_tokens} prompt tokens"
        )
    notes = _bookkeeping(answer)
    if notes:
        with st.expander("Details"):
            for note in notes:
                st.text(note)


def _bookkeeping(answer: Answer) -> list[str]:
    notes = []
    if answer.refused and answer.refusal_reason == "ungrounded":
        notes.append("The model's answer cited none of the passages found and none of them supports it, so it "
                     f"was withheld: {answer.raw_text.strip()}")
    if answer.second_look in SECOND_LOOK_NOTES:
        notes.append(SECOND_LOOK_NOTES[answer.second_look])
    if answer.citations_moved:
        notes.append(f"Citations of {answer.citations_moved} sentence(s) were pointed at the passage that "
                     "supports them.")
    if answer.invalid_citations:
        notes.append(f"{answer.invalid_citations} reference(s) to passages that do not exist were removed.")
    if answer.best_dense is not None:
        notes.append(f"Best match similarity {answer.best_dense:.3f}; finish reason: {answer.finish_reason}.")
    return notes
