"""Evaluate page: score search and Ask on your own documents, as ``sift eval corpus`` does.

Generate a question set from the index (the local generator writes it, the same Workspace verb as the CLI:
:meth:`Workspace.eval_questions`) or upload one (JSONL), download it, then run the report: hit@1 / hit@5 /
MRR@10 of the gold document per search mode, Ask's metrics, and the worst questions with their top passage.
Generating and reporting each hold one ticket of the generator queue (:func:`app.ui.ask_page.turn`) for the
whole run, so Ask answers wait (or are told the page is busy) rather than interleave with it. Questions,
answers and passages come from documents and the model: they are shown as plain text (``st.text``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.ui.ask_page import turn
from app.ui.resources import workspace
from app.ui.text import plain
from app.workspace import Workspace
from pipelines.corpus_eval.questions import kind_of, read_set
from pipelines.corpus_eval.report import ASK_METRICS, RETRIEVAL_METRICS
from pipelines.rag.datasets import eval_item

SET_KEY = "evaluate_set"  # session state: (set name, its rows)
REPORT_KEY = "evaluate_report"  # session state: ((set name, rows), report) of the last report
UPLOADED_KEY = "evaluate_uploaded"  # session state: (name, size) of the upload already read
MAX_QUESTIONS = 100


def render() -> None:
    """Draw the page."""
    st.title("🧪 Evaluate")
    ws = workspace()
    if not ws.exists():
        st.info(f"No index at {ws.index_dir} yet: add documents on the Library page.")
        return
    st.caption("How well search and Ask do on your own documents, with questions the local generator writes "
               "from them (about a fifth are questions the documents do not answer).")
    generate_tab, upload_tab = st.tabs(["Generate from the index", "Upload a set"])
    with generate_tab:
        _generate(ws)
    with upload_tab:
        _upload()
    kept = st.session_state.get(SET_KEY)
    if kept is None:
        st.info("Generate a question set or upload one (JSONL), then run the report.")
        return
    name, rows = kept
    _show_set(name, rows)
    if st.button("Run the report", key="evaluate_run", type="primary"):
        _run_report(ws, name, rows)
    report = st.session_state.get(REPORT_KEY)
    if report is not None and report[0] == (name, rows):
        _show_report(report[1])


def _generate(ws: Workspace) -> None:
    with st.form("evaluate_generate"):
        cols = st.columns([1, 1, 1], vertical_alignment="bottom")
        n = int(cols[0].number_input("Questions", 1, MAX_QUESTIONS, 10, key="evaluate_n"))
        seed = int(cols[1].number_input("Seed (which chunks)", 0, 10_000, 0, key="evaluate_seed"))
        go = cols[2].form_submit_button("Generate", type="primary")
    if not go:
        return
    ticket = turn(ws, "Writing the set", "Try again")
    if ticket is None:
        return
    with ticket:
        bar = st.progress(0.0, text=f"0 of {n} questions written")

        def update(done: int, total: int) -> None:
            bar.progress(done / total, text=f"{done} of {total} questions written")

        rows, tally = ws.eval_questions(n, seed, progress=update)
    bar.empty()
    st.session_state[SET_KEY] = (f"questions-seed{seed}.jsonl", rows)
    st.caption(plain(tally.line()))


def _upload() -> None:
    upload = st.file_uploader("A question set (JSONL: question, answers, title or source)", type=["jsonl"],
                              key="evaluate_upload")
    if upload is None or st.session_state.get(UPLOADED_KEY) == (upload.name, upload.size):
        return
    st.session_state[UPLOADED_KEY] = (upload.name, upload.size)
    name = Path(upload.name).name
    with tempfile.TemporaryDirectory(prefix="sift-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(upload.getvalue())
        rows = read_set(path)  # the readers' own checks: a line they refuse is named
    st.session_state[SET_KEY] = (name, rows)


def _show_set(name: str, rows: list[dict[str, Any]]) -> None:
    kinds = [kind_of(row) for row in rows]
    st.subheader("Question set")
    st.caption(f"{plain(name)}: {len(rows)} questions ({kinds.count('answerable')} answerable, "
               f"{kinds.count('unanswerable')} unanswerable)")
    table = pd.DataFrame({"question": [r["question"] for r in rows], "kind": kinds,
                          "answer": ["; ".join(map(str, r.get("answers") or [])) for r in rows]})
    st.dataframe(table, hide_index=True, height=min(400, 40 + 35 * len(rows)))
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    st.download_button("Download the set (JSONL)", lines, file_name=name, mime="application/jsonl",
                       key="evaluate_download")


def _run_report(ws: Workspace, name: str, rows: list[dict[str, Any]]) -> None:
    items = [item for item in map(eval_item, rows) if item is not None]
    ticket = turn(ws, "The report", "Try again")
    if ticket is None:
        return
    with ticket:
        bar = st.progress(0.0, text="Searching, then answering every question…")

        def update(done: int, total: int) -> None:
            bar.progress(done / total, text=f"{done} of {total} questions answered")

        report = ws.eval_report(items, name, progress=update)
    bar.empty()
    st.session_state[REPORT_KEY] = ((name, rows), report)


def _show_report(report: dict[str, Any]) -> None:
    st.subheader("Search: is the question's document found?")
    if report["retrieval"]:
        frame = pd.DataFrame(report["retrieval"]).T[list(RETRIEVAL_METRICS)].astype(float)
        frame.index.name = "mode"
        st.bar_chart(frame, stack=False)
        st.dataframe(frame)
    else:
        st.info("No answerable question names its document (a title or source), so search is not scored.")
    st.subheader("Ask")
    for col, (key, label) in zip(st.columns(len(ASK_METRICS)), ASK_METRICS.items()):
        value = report["ask"][key]
        col.metric(label, "n/a" if value is None else f"{value:.2f}")
    st.subheader("Worst questions")
    if not report["worst"]:
        st.caption("Every question went well.")
    for number, entry in enumerate(report["worst"], start=1):
        with st.container(border=True):
            st.text(f"{number}. {entry['question']}")
            st.text(f"expected: {'; '.join(entry['answers']) or '(not in the documents)'}")
            st.text(f"answer: {'(refused)' if entry['refused'] else entry['answer']}")
            top = entry["top_passage"]
            st.text("top passage: (none)" if top is None else f"top passage: {top['title']}: {top['text']}")
