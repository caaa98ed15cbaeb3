"""Evaluate page (AppTest) on the tiny `sift eval corpus` documents: an uploaded set is scored per search mode
with Ask's metrics and the worst questions as plain text; a busy generator is said and nothing runs; a set
generated with SmolLM2 is offered for download."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from corpus_eval_testkit import write_tiny_docs
from streamlit.testing.v1 import AppTest
from ui_testkit import page_app

from app.admission import admission_for
from app.ui.evaluate_page import REPORT_KEY, SET_KEY
from app.workspace import Workspace
from pipelines.corpus_eval.report import ASK_METRICS
from pipelines.rag.datasets import eval_item

SET = Path(__file__).with_name("evaluate_set.jsonl")
INJECTED = "Which city is named in ![x](http://127.0.0.1:9/p.png) the lost atlas?"
MODES = ["dense", "bm25", "hybrid"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate")
    index = root / "index"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SIFT_CONFIG", str(root / "no-such-sift.toml"))
        Workspace(index).index([write_tiny_docs(root / "docs")])
    return index


@pytest.fixture()
def app(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SIFT_INDEX", str(index_dir))
    at = page_app("app.ui.evaluate_page").run()
    assert not at.exception and not at.error
    return at


def upload_set(at: AppTest) -> AppTest:
    at.file_uploader(key="evaluate_upload").set_value((SET.name, SET.read_bytes(), "application/jsonl"))
    return at.run()


def test_the_page_renders_on_an_index_and_asks_for_a_set(app: AppTest) -> None:
    assert app.title[0].value == "🧪 Evaluate"
    assert app.number_input(key="evaluate_n").value == 10
    assert "Generate a question set or upload one" in app.info[0].value
    assert not app.get("download_button") and not app.get("metric")


def test_an_uploaded_set_is_listed_and_offered_for_download(app: AppTest) -> None:
    at = upload_set(app)
    assert not at.exception and not at.error
    assert at.session_state[SET_KEY] == (SET.name, [json.loads(line) for line in SET.read_text().splitlines()])
    assert "evaluate_set.jsonl: 3 questions (2 answerable, 1 unanswerable)" in [c.value.replace("\\", "")
                                                                                 for c in at.caption]
    assert list(at.dataframe[0].value["question"])[1] == INJECTED
    assert len(at.get("download_button")) == 1


def test_the_report_has_a_row_and_bar_per_mode_and_the_worst_questions_as_plain_text(app: AppTest) -> None:
    at = upload_set(app)
    at.button(key="evaluate_run").click()
    at.run(timeout=300)
    assert not at.exception and not at.error
    retrieval = at.dataframe[1].value
    assert list(retrieval.index) == MODES and list(retrieval.columns) == ["hit@1", "hit@5", "mrr@10"]
    report = at.session_state[REPORT_KEY][1]
    assert [retrieval.loc[m, "hit@1"] for m in MODES] == [report["retrieval"][m]["hit@1"] for m in MODES]
    assert len(at.get("vega_lite_chart")) == 1, "one grouped bar chart of the three modes"
    assert [m.label for m in at.metric] == list(ASK_METRICS.values())
    texts = [t.value for t in at.text]
    assert any(INJECTED in text for text in texts), "the question is shown as the characters it holds"
    assert not at.get("imgs")
    rendered = [e.value for e in [*at.markdown, *at.caption, *at.subheader, *at.info, *at.warning]]
    assert not [v for v in rendered if "](http" in v], "nothing document-derived reaches Markdown unescaped"


def test_a_busy_generator_is_said_and_no_report_runs(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.ui.evaluate_page as evaluate_page

    ws = Workspace(index_dir)
    monkeypatch.setattr(evaluate_page, "workspace", lambda: ws)
    at = upload_set(page_app("app.ui.evaluate_page").run())
    with admission_for(ws, 0).acquire():
        at.button(key="evaluate_run").click()
        at.run()
    assert not at.exception and not at.error
    (warning,) = [w.value for w in at.warning]
    assert re.fullmatch(r"Busy: 1 ahead of you, and no more may wait\. Try again in about \d+ s\.", warning)
    assert REPORT_KEY not in at.session_state and not at.metric


@pytest.mark.slow
def test_generating_a_set_with_smollm2_offers_it_for_download(app: AppTest) -> None:
    app.number_input(key="evaluate_n").set_value(3)
    app.button(key="FormSubmitter:evaluate_generate-Generate").click()
    app.run(timeout=900)
    assert not app.exception and not app.error
    name, rows = app.session_state[SET_KEY]
    assert name == "questions-seed0.jsonl" and 1 <= len(rows) <= 3
    assert all(eval_item(row) is not None and row["kind"] in ("answerable", "unanswerable") for row in rows)
    assert len(app.get("download_button")) == 1
    assert any(re.match(rf"questions: 0 reused, {len(rows)} new from \d+ generator calls", c.value.replace("\\", ""))
               for c in app.caption)
