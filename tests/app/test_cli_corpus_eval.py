"""`sift eval corpus` on a tiny indexed folder with SmolLM2: the set file is written and read by the existing
readers, the report has a row per search mode, a rerun with the same --save generates nothing, and impossible
requests are refused with the input named."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from corpus_eval_testkit import write_tiny_docs

from app.cli.main import main
from app.workspace import Workspace
from pipelines.rag.datasets import load_jsonl

MODES = ["dense", "bm25", "hybrid"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(index, set file, JSON report) of one `sift eval corpus --questions 3 --save FILE --json` run."""
    folder = write_tiny_docs(tmp_path_factory.mktemp("docs"))
    index = tmp_path_factory.mktemp("index") / "index"
    save = tmp_path_factory.mktemp("set") / "questions.jsonl"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
        env.setenv("SIFT_CONFIG", str(folder / "no-such-sift.toml"))
        Workspace(index).index([folder])
        assert main(["eval", "corpus", "--index", str(index), "--questions", "3", "--save", str(save), "--json"]) == 0
    return index, save, json.loads(out.getvalue())


@pytest.mark.slow
def test_the_set_file_is_jsonl_the_rag_reader_takes(generated: tuple[Path, Path, dict]) -> None:
    _, save, report = generated
    items = load_jsonl(save)
    assert (len(items), report["questions"]) == (len(save.read_text(encoding="utf-8").splitlines()), len(items))
    assert report["generation"]["kept"] == len(items) and report["generation"]["reused"] == 0


@pytest.mark.slow
def test_the_report_scores_each_search_mode_and_ask(generated: tuple[Path, Path, dict]) -> None:
    _, _, report = generated
    assert sorted(report["retrieval"]) == sorted(MODES)  # --json sorts keys
    assert all(set(scores) == {"hit@1", "hit@5", "mrr@10"} for scores in report["retrieval"].values())
    assert set(report["ask"]) == {"containment", "answers_citing_gold", "supported_sentences", "refusal_rate",
                                  "false_refusal_rate"}


@pytest.mark.slow
def test_the_table_prints_a_row_per_mode(generated: tuple[Path, Path, dict], capsys) -> None:  # noqa: ANN001
    index, save, _ = generated
    assert main(["eval", "corpus", "--index", str(index), "--jsonl", str(save)]) == 0
    firsts = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [word for word in firsts if word in MODES] == MODES


@pytest.mark.slow
def test_a_rerun_with_the_same_file_generates_nothing(generated: tuple[Path, Path, dict], capsys) -> None:  # noqa: ANN001
    index, save, _ = generated
    before = save.read_bytes()
    n = len(load_jsonl(save))
    assert main(["eval", "corpus", "--index", str(index), "--questions", str(n), "--save", str(save),
                 "--generate-only", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["generation"]["generator_calls"], summary["generation"]["reused"], save.read_bytes()) == (
        0, n, before)


@pytest.mark.slow
def test_eval_retrieval_reads_the_same_file(generated: tuple[Path, Path, dict], capsys) -> None:  # noqa: ANN001
    index, save, report = generated
    assert main(["eval", "retrieval", "--jsonl", str(save), "--index", str(index), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["queries"] == report["answerable"]
    assert {mode: scores["results"][mode]["hit@5"] for mode in MODES} == {
        mode: report["retrieval"][mode]["hit@5"] for mode in MODES}


@pytest.mark.parametrize(("argv", "needle"), [
    (["--questions", "0"], "--questions must be at least 1, got 0"),
    (["--generate-only"], "--generate-only writes the set to a file: give --save FILE"),
])
def test_bad_options_exit_1_naming_them(tmp_path: Path, capsys, argv: list[str], needle: str) -> None:  # noqa: ANN001
    assert main(["eval", "corpus", "--index", str(tmp_path / "idx"), *argv]) == 1
    assert needle in capsys.readouterr().err


def test_a_missing_index_is_named(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["eval", "corpus", "--index", str(tmp_path / "nowhere")]) == 1
    assert f"no index at {tmp_path / 'nowhere'}" in capsys.readouterr().err


@pytest.mark.slow
def test_an_empty_index_and_a_bad_save_path_are_named(generated: tuple[Path, Path, dict], tmp_path: Path,
                                                      capsys) -> None:  # noqa: ANN001
    index, _, _ = generated
    missing = tmp_path / "no-folder" / "q.jsonl"
    assert main(["eval", "corpus", "--index", str(index), "--save", str(missing)]) == 1
    assert f"--save {missing}: the folder {missing.parent} does not exist" in capsys.readouterr().err
    one = tmp_path / "one"
    one.mkdir()
    (one / "note.md").write_text("# Note\n\nA note that will be removed.\n", encoding="utf-8")
    empty = Workspace(tmp_path / "empty-index")
    empty.index([one])
    empty.remove([one / "note.md"])
    assert main(["eval", "corpus", "--index", str(tmp_path / "empty-index")]) == 1
    assert "holds no documents" in capsys.readouterr().err
