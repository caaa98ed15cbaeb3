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


# ---- --compare ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(index of the tiny documents with the default settings, a hand-written set naming their titles)."""
    folder = write_tiny_docs(tmp_path_factory.mktemp("compare-docs"))
    index = tmp_path_factory.mktemp("compare-index") / "index"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SIFT_CONFIG", str(folder / "no-such-sift.toml"))
        Workspace(index).index([folder])
    rows = [{"question": "When did Apollo 11 land on the Moon?", "answers": ["20 July 1969"], "title": "Apollo 11"},
            {"question": "Where was Marie Curie born?", "answers": ["Warsaw"], "title": "Marie Curie"},
            {"question": "How long does the male emperor penguin keep the egg warm?", "answers": ["about 65 days"],
             "title": "Emperor penguins"},
            {"question": "Who painted the Golden Gate Bridge?", "answers": []}]
    questions = folder.parent / "set.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return index, questions


def test_compare_scores_each_variant_in_a_temporary_index_that_is_removed(
    tiny_index: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,  # noqa: ANN001
) -> None:
    import tempfile

    index, questions = tiny_index
    built: list[tuple[Path, int | None]] = []
    real_index = Workspace.index

    def spy(self: Workspace, paths, **kwargs):  # noqa: ANN001, ANN202
        built.append((self.index_dir, kwargs.get("chunk_size")))
        return real_index(self, paths, **kwargs)

    monkeypatch.setattr(Workspace, "index", spy)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["eval", "corpus", "--index", str(index), "--jsonl", str(questions),
                 "--compare", "chunk_size=120,200,160", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["rows"]
    assert [r["label"] for r in rows] == ["baseline", "chunk_size=120", "chunk_size=160"]  # 200 is the baseline
    assert [r["settings"]["chunk_size"] for r in rows] == [200, 120, 160]
    assert all(r["index_seconds"] > 0 and r["query_ms_p50"] > 0 and r["mrr@10"] is not None for r in rows)
    assert report["answerable"] == 3 and report["best"] in {r["label"] for r in rows}
    assert [size for _, size in built] == [200, 120, 160]
    assert all(folder.is_relative_to(tmp_path) and not folder.exists() for folder, _ in built)
    assert list(tmp_path.iterdir()) == [], "the temporary folder is removed"


def test_compare_table_has_a_row_per_variant_with_costs_and_names_the_best(
    tiny_index: tuple[Path, Path], capsys,  # noqa: ANN001
) -> None:
    index, questions = tiny_index
    assert main(["eval", "corpus", "--index", str(index), "--jsonl", str(questions),
                 "--compare", "chunk_size=120", "--compare", "mode=bm25"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "index s" in lines[2] and "p50 ms" in lines[2]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:6]}
    assert list(rows) == ["baseline", "chunk_size=120", "mode=bm25"]
    assert all(len(cells) == 5 and float(cells[0]) > 0 and float(cells[1]) > 0 for cells in rows.values())
    assert rows["mode=bm25"][0] == rows["baseline"][0], "a query axis reuses the baseline's index"
    (best,) = [line for line in lines if line.startswith("best: ")]
    assert best.removeprefix("best: ") in rows


@pytest.mark.parametrize(("axis", "needle"), [
    ("size=1,2", "unknown axis 'size': use one of chunk_size, overlap, leads, model, mode, k"),
    ("leads=maybe", "--compare leads: 'maybe' is not on or off"),
    ("chunk_size=12x", "--compare chunk_size: '12x' is not a whole number of 1 or more"),
    ("mode=fuzzy", "--compare mode: 'fuzzy' is not one of dense, bm25, hybrid"),
    ("chunk_size", "--compare 'chunk_size': write AXIS=V1,V2"),
    ("overlap=200", "--compare overlap=200: the overlap (200) must be smaller than the chunk size (200)"),
    ("k=3", "--compare k changes only the passages Ask is given: add --with-ask"),
])
def test_a_bad_axis_or_value_is_named(tiny_index: tuple[Path, Path], axis: str, needle: str, capsys) -> None:  # noqa: ANN001
    index, questions = tiny_index
    assert main(["eval", "corpus", "--index", str(index), "--jsonl", str(questions), "--compare", axis]) == 1
    assert needle in capsys.readouterr().err


def test_with_ask_needs_compare(tiny_index: tuple[Path, Path], capsys) -> None:  # noqa: ANN001
    index, questions = tiny_index
    assert main(["eval", "corpus", "--index", str(index), "--jsonl", str(questions), "--with-ask"]) == 1
    assert "--with-ask goes with --compare" in capsys.readouterr().err
