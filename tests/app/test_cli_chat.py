"""`sift chat` end to end: questions piped on stdin to a real process (MiniLM index, SmolLM2 through llama.cpp),
and `sift eval followups` on the same tiny index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conversation_testkit import FOLLOWUP_DOCS

from app.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DOCS = FOLLOWUP_DOCS


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chat")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    Workspace(root / "index").index([docs])
    return root / "index"


def sift(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *argv], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_chat_reads_piped_questions_rewrites_follow_ups_and_survives_errors(index_dir: Path) -> None:
    too_long = "Claude Monet painted water lilies at Giverny " * 400  # more tokens than SmolLM2's window
    lines = ["Where did Claude Monet paint?", "When did he die?", too_long, "/reset", "When did he die?", "/quit",
             "What is bread baked from?"]
    run = sift("chat", "--index", str(index_dir), "--preset", "smollm2-135m", "-k", "1", "--max-tokens", "32",
               stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("[1] Claude Monet  (") == 2, out  # two answers, each from the Monet passage
    assert out.count("(searched for: ") == 1 and "(searched for: When did Claude Monet die?)" in out
    assert "(new conversation)" in out
    errors = [line for line in run.stderr.splitlines() if line.startswith("sift: error:")]
    assert len(errors) == 1 and "window" in errors[0], run.stderr
    assert "Bread  (" not in out, "nothing after /quit is asked (it would cite the bread note)"


@pytest.mark.slow
def test_chat_without_rewriting_and_at_eof(index_dir: Path) -> None:
    run = sift("chat", "--index", str(index_dir), "--preset", "smollm2-135m", "--rewrite", "none", "-k", "1",
               "--max-tokens", "16",
               stdin="Where did Claude Monet paint?\nWhen did he die?")  # no newline at the end: EOF ends it
    assert run.returncode == 0, run.stderr
    assert "(searched for: " not in run.stdout and run.stdout.count("[1] Claude Monet  (") == 1


@pytest.mark.slow
def test_eval_followups_reports_hits_as_typed_and_rewritten(index_dir: Path, tmp_path: Path) -> None:
    rows = [
        {"first": "Where did Claude Monet paint?", "followup": "When did he die?", "title": "Claude Monet",
         "answers": ["1926"]},
        {"first": "What was the dodo?", "followup": "Where did it live?", "title": "Dodo", "answers": ["Mauritius"]},
    ]
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = sift("eval", "followups", "--index", str(index_dir), "--jsonl", str(path), "-k", "1", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [r["heuristic"]["query"] for r in data["rows"]] == ["When did Claude Monet die?", "Where did Dodo live?"]
    assert data["rows"][0]["as_is"]["rank"] is None and data["rows"][0]["heuristic"]["rank"] == 1
    assert data["summary"]["heuristic"]["hit@1"] == 1.0 and data["summary"]["first_turn_hit@5"] == 1.0
    assert "generator" not in data["summary"]


def test_eval_followups_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"first": "Who was Monet?", "followup": "When did he die?"}\n', encoding="utf-8")
    run = sift("eval", "followups", "--jsonl", str(path), "--index", str(tmp_path / "none"))
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1].startswith(f"sift: error: {path}:1 needs")
