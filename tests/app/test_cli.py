"""The CLI: exit codes, one-line errors, stable JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_search_info_json(tmp_path: Path, corpus_dir: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    code, out, _ = _run(capsys, "index", str(corpus_dir), "--index", idx, "--chunk-size", "64", "--json")
    assert code == 0 and json.loads(out)["counts"]["added"] == 4
    code, out, _ = _run(capsys, "search", "Eiffel Tower", "--index", idx, "-k", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["hits"][0]["title"] == "paris"
    assert set(data["hits"][0]) == {
        "rank",
        "score",
        "chunk_id",
        "doc_id",
        "source",
        "title",
        "start",
        "end",
        "text",
        "meta",
    }
    code, out, _ = _run(capsys, "info", "--index", idx, "--json")
    info = json.loads(out)
    assert code == 0 and info["documents"] == 4 and info["lead_vectors"] == 4 and info["manifest"]["lead_vectors"]
    assert info["manifest"]["lead_style"] == 2
    code, out, _ = _run(capsys, "info", "--index", idx)
    assert code == 0 and "4 lead vectors (definitions)" in out
    code, out, _ = _run(capsys, "index", str(corpus_dir), "--index", idx)
    assert code == 0 and "unchanged 4" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["search", "x", "--index", "{tmp}/none"], "no index at"),
        (["index", "{tmp}/missing", "--index", "{tmp}/i"], "does not exist"),
        (["search", "x", "--index", "{idx}", "--where", "novalue"], "is not key=value"),
        (["index", "{docs}", "--index", "{idx}", "--chunk-size", "100"], "chunker"),
        (["index", "{docs}", "--index", "{idx}", "--no-leads"], "with lead vectors but without"),
    ],
)
def test_user_errors_exit_1_with_one_line(tmp_path: Path, corpus_dir: Path, capsys, argv, needle) -> None:
    idx = tmp_path / "idx"
    assert main(["index", str(corpus_dir), "--index", str(idx), "--chunk-size", "64"]) == 0
    capsys.readouterr()
    args = [a.format(tmp=tmp_path, idx=idx, docs=corpus_dir) for a in argv]
    code, _, err = _run(capsys, *args)
    assert code == 1
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_no_leads_builds_an_index_without_lead_vectors(tmp_path: Path, corpus_dir: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    code, out, _ = _run(capsys, "index", str(corpus_dir), "--index", idx, "--chunk-size", "64", "--no-leads")
    assert code == 0 and "leads embedded" not in out
    code, out, _ = _run(capsys, "info", "--index", idx)
    assert code == 0 and "no lead vectors" in out
    (corpus_dir / "new.txt").write_text("Volcanoes erupt lava and ash from deep below.\n")
    code, out, _ = _run(capsys, "index", str(corpus_dir), "--index", idx)
    assert code == 0 and "added 1" in out and "leads embedded" not in out, "the index keeps its setting"


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["search", "x", "--mode", "fuzzy"])
    assert exc.value.code == 2


# ---- sift classify --method generate ---------------------------------------------------------------

GENERATE_LABELS = ["--label", "sports=a text about sports", "--label", "cooking=a text about cooking"]


@pytest.mark.slow
def test_classify_generate_labels_texts_and_a_file(tmp_path: Path, capsys) -> None:
    texts = ["The striker scored twice in the second half and the team won the cup.",
             "Simmer the tomato sauce with garlic and basil for an hour."]
    code, out, _ = _run(capsys, "classify", *texts, "--method", "generate", *GENERATE_LABELS, "--json")
    rows = json.loads(out)
    assert code == 0 and [r["label"] for r in rows] == ["sports", "cooking"]
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-5 and r["score"] == max(r["scores"].values()) for r in rows)
    table = tmp_path / "notes.csv"
    table.write_text("id,body\n1,The tennis champion won the final in straight sets.\n"
                     "2,Chop the onions finely and fry them in butter until golden.\n", encoding="utf-8")
    code, out, _ = _run(capsys, "classify", "--input", str(table), "--text-column", "body", "--method", "generate",
                        *GENERATE_LABELS, "--preset", "smollm2-135m")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["sports", "cooking"]


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["classify", "x", "--method", "generate", *GENERATE_LABELS, "--save", "{tmp}/clf"], "cannot be saved"),
        (["classify", "x", "--method", "generate"], "--method generate needs labels"),
        (["classify", "a", "b", *GENERATE_LABELS, "--priors", "em"], "needs at least 50 of them, got 2"),
        (["classify", "x", "--method", "generate", *GENERATE_LABELS, "--model-path", "{tmp}/none.gguf"],
         "does not exist"),
    ],
)
def test_classify_generate_user_errors(tmp_path: Path, capsys, argv, needle) -> None:
    code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1 and needle in err and len(err.strip().splitlines()) == 1


# ---- sift classify --method auto ---------------------------------------------------------------------


@pytest.mark.slow
def test_classify_auto_asks_the_generator_about_a_sample_and_takes_corrections(tmp_path: Path, capsys) -> None:
    from classify_testkit import GOLD, LABELS, TEXTS, accuracy

    from app.workspace import Workspace
    from pipelines.classify.tables import read_rows

    table = tmp_path / "notes.csv"
    table.write_text("body\n" + "".join(f'"{t}"\n' for t in TEXTS), encoding="utf-8")
    labels = [a for name, text in LABELS.items() for a in ("--label", f"{name}={text}")]
    argv = ["classify", "--input", str(table), "--text-column", "body", "--method", "auto", "--sample", "10", *labels]
    code, out, err = _run(capsys, *argv, "--json")
    rows = json.loads(out)
    assert code == 0 and "the generator labelled 10 of 60 texts" in err
    assert accuracy([r["label"] for r in rows]) >= 0.95
    direct = Workspace(index_dir=tmp_path / "none").classify(TEXTS, LABELS, method="auto", sample=10)
    assert [r["label"] for r in rows] == [p.label for p in direct], "the CLI is the Workspace verb"
    # The sample goes to a CSV; a person fixes one row and passes the file back: every row of it is a label
    # they stand by (no generator call), the fixed one changes that text's answer.
    sample = tmp_path / "sample.csv"
    code, out, err = _run(capsys, *argv, "--sample-out", str(sample))
    sampled = read_rows(sample)
    assert code == 0 and len(sampled) == 10 and set(sampled[0]) == {"body", "label"}
    first = TEXTS.index(sampled[0]["body"])
    wrong = "cooking" if GOLD[first] == "sports" else "sports"
    sampled[0]["label"] = wrong
    sample.write_text("body,label\n" + "".join(f'"{r["body"]}",{r["label"]}\n' for r in sampled), encoding="utf-8")
    code, out, err = _run(capsys, *argv, "--corrections", str(sample), "--json")
    assert code == 0 and json.loads(out)[first]["label"] == wrong and "10 corrected by hand" in err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["classify", "x", "--method", "auto", *GENERATE_LABELS, "--save", "{tmp}/clf"],
         "--method auto cannot be saved"),
        (["classify", "x", *GENERATE_LABELS, "--sample", "5"], "sample (--sample) is the generator's share"),
        (["classify", "x", *GENERATE_LABELS, "--corrections", "{tmp}/fixes.csv"], "are for --method auto"),
        (["classify", "x", *GENERATE_LABELS, "--sample-out", "{tmp}/s.csv"], "are for --method auto"),
        (["classify", "x", "--method", "auto", *GENERATE_LABELS, "--sample", "-1"], "a whole number from 0"),
    ],
)
def test_classify_auto_user_errors(tmp_path: Path, capsys, argv, needle) -> None:
    code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1 and needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_classify_index_auto_reports_the_sample_by_chunk_id(tmp_path: Path, corpus_dir: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    assert main(["index", str(corpus_dir), "--index", idx]) == 0
    capsys.readouterr()
    code, out, err = _run(capsys, "classify", "--index", idx, *INDEX_LABELS, "--method", "auto", "--json")
    got = json.loads(out)
    assert code == 0 and got["documents"] == 4 and got["auto"]["calls"] == got["chunks"] == len(got["auto"]["sample"])
    assert sum(got["document_counts"].values()) == 4 and "the generator labelled" in err


INDEX_LABELS = ["--label", "animals=animals and pets", "--label", "food=food, baking and cooking",
                "--label", "tech=computers and programming", "--label", "places=cities and buildings"]


def test_classify_index_writes_labels_search_where_finds_and_refuses_keys_it_never_could(
    tmp_path: Path, corpus_dir: Path, capsys
) -> None:
    idx = str(tmp_path / "idx")
    assert main(["index", str(corpus_dir), "--index", idx]) == 0
    capsys.readouterr()
    for key, needle in [("1x", "label key '1x' is not valid"), ("topic_id", "reserved"), ("id", "'doc_id'")]:
        code, _, err = _run(capsys, "classify", "--index", idx, *INDEX_LABELS, "--key", key)
        assert code == 1 and needle in err and len(err.strip().splitlines()) == 1
    code, out, _ = _run(capsys, "classify", "--index", idx, *INDEX_LABELS, "--key", "kind",
                        "--save", str(tmp_path / "clf"), "--json")
    assert code == 0 and json.loads(out)["document_counts"] == {"animals": 1, "food": 1, "places": 1, "tech": 1}
    assert (tmp_path / "clf").is_dir(), "the classifier that labelled the index is saved"
    code, out, _ = _run(capsys, "search", "oven", "--index", idx, "--where", "doc_kind=food", "--json")
    assert code == 0 and [hit["title"] for hit in json.loads(out)["hits"]] == ["bread"]
    code, _, err = _run(capsys, "search", "oven", "--index", idx, "--where", "kind=food", "--where", "kind=tech")
    assert code == 1 and "'kind' is given twice" in err


def test_a_closed_pipe_is_not_an_error(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`sift info | head -0`: the reader went away; sift exits 0 without a traceback."""

    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["info", "--index", str(tmp_path / "none")]) == 0


# ---- --expand: the generator's typical texts per label -----------------------------------------------------

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_classify_expand_shows_the_texts_then_reads_them_from_the_cache(capsys, expansions) -> None:
    argv = ["classify", "The striker scored twice.", "Knead the dough.", *GENERATE_LABELS, "--expand", "2"]
    code, out, err = _run(capsys, *argv)
    # written once (one call per label at least) and shown; classifying then reads them back from the cache
    assert code == 0 and expansions[0][:2] == (2, SMOLLM2) and expansions[0][2] >= 2 and expansions[1][2] == 0
    assert f"expanded labels: {SMOLLM2} wrote" in err and "generator calls" in err and "  sports:\n    - " in err
    code, again, err = _run(capsys, *argv)
    assert code == 0 and again == out and "read from the cache" in err
    assert [calls for _, _, calls in expansions[2:]] == [0, 0]


@pytest.mark.slow
def test_classify_index_and_eval_pass_expand_to_the_pipeline(tmp_path: Path, corpus_dir: Path, capsys,
                                                              expansions) -> None:
    idx = str(tmp_path / "idx")
    assert main(["index", str(corpus_dir), "--index", idx]) == 0
    capsys.readouterr()
    code, out, _ = _run(capsys, "classify", "--index", idx, *INDEX_LABELS, "--expand", "2", "--json")
    assert code == 0 and sum(json.loads(out)["document_counts"].values()) == 4
    assert [n for n, _, _ in expansions] == [2]
    rows = ["text,label"] + [f"The team won match {i} after a late goal.,sports" for i in range(30)] + [
        f"Bake recipe {i} with flour and butter.,cooking" for i in range(30)]
    (tmp_path / "set.csv").write_text("\n".join(rows), encoding="utf-8")
    code, out, _ = _run(capsys, "eval", "classify", "--csv", str(tmp_path / "set.csv"), "--expand", "3", "--json")
    report = json.loads(out)
    assert code == 0 and report["settings"]["expand"] == 3 and report["expansion"]["n"] == 3
    assert expansions[-1][:2] == (3, SMOLLM2)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["classify", "x", *GENERATE_LABELS, "--expand", "-1"], "expand (--expand) must be a whole number"),
        (["classify", "x", *GENERATE_LABELS, "--expand", "33"], "from 0 (off) to 32, got 33"),
        (["classify", "x", *GENERATE_LABELS, "--method", "generate", "--expand", "2"], "with --method zero-shot"),
        (["classify", "x", "--method", "logreg", "--train", "{tmp}/t.csv", "--expand", "2"], "not with --load"),
        (["classify", "--index", "{tmp}/none", *GENERATE_LABELS, "--expand", "-2"], "expand (--expand) must be"),
        (["eval", "classify", "--dataset", "rotten-tomatoes", "--expand", "-3"], "--expand must be a whole number"),
        (["eval", "classify", "--dataset", "rotten-tomatoes", "--method", "logreg", "--expand", "2"],
         "use --method zero-shot, not logreg"),
    ],
)
def test_a_bad_expand_is_refused_naming_the_flag_before_any_model_loads(
    tmp_path: Path, capsys, argv, needle, expansions
) -> None:
    code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1 and needle in err and len(err.strip().splitlines()) == 1 and expansions == []


def test_a_withheld_answer_says_why_in_plain_words_and_shows_itself_only_when_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli.ask import print_sources
    from pipelines.rag import Answer
    from pipelines.rag.refusal import REFUSAL_TEXT

    raw = "The Ninja build system is distributed under the MIT license."
    answer = Answer("Which license?", REFUSAL_TEXT, raw, [], [], True, "ungrounded", 0.64)
    print_sources(answer)
    err = capsys.readouterr().err
    assert "cited none of the passages found and none of them supports it" in err and "MIT" not in err
    assert "ungrounded" not in err, "no internal codes"
    print_sources(answer, verbose=True)
    assert f"(withheld: {raw})" in capsys.readouterr().err
    for reason in ("ungrounded", "low_evidence", "model"):
        about = Answer("Which license does lz4 use?", REFUSAL_TEXT, raw, [], [], True, reason, 0.64, absent=("lz4",))
        print_sources(about)
        assert '(no indexed document mentions "lz4")\n' in capsys.readouterr().err, reason
