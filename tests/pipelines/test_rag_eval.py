"""RAG evaluation: metrics, refusal calibration, datasets, and the `sift ask` / `sift eval rag` commands."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
from rag_testkit import BagOfWordsRetriever, build_tiny_phi3

from indexing.datatypes import Hit
from indexing.errors import DatasetError
from pipelines.generation import GenerationConfig
from pipelines.generation.transformers_backend import TransformersGenerator
from pipelines.rag import RAGPipeline, RefusalPolicy
from pipelines.rag.datasets import EvalItem, clean_rst, load_jsonl, parse_faq
from pipelines.rag.eval import answer_in_passages, contains_answer, evaluate, gold_rank, normalize, token_f1
from pipelines.rag.prompt import Passage
from pipelines.rag.refusal import calibrate_threshold, cross_validate, is_refusal_text

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def phi3_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3"))


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [("Paris", "Paris", 1.0), ("The Paris!", "paris", 1.0), ("Paris, France", "Paris", 2 / 3), ("", "Paris", 0.0),
     ("London", "Paris", 0.0), ("", "", 1.0), ("the the", "a", 1.0)],
)
def test_token_f1(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_normalize_and_containment() -> None:
    assert normalize("  An   Apple, the PIE. ") == "apple pie"
    assert contains_answer("It was built by Gustave\nEiffel [1].", ["gustave eiffel"])
    assert not contains_answer("No idea.", ["Eiffel", "  "]) and not contains_answer("x", [])


def test_gold_rank_by_source_title_or_answer_text() -> None:
    hits = [Hit(i, f"d{i}", f"/c/d{i}.txt", f"T{i}", 0.5, f"text {i}", 0, 6) for i in range(3)]
    assert gold_rank(EvalItem("q", ("a",), gold_sources=("/c/d2.txt",)), hits) == 3
    assert gold_rank(EvalItem("q", ("a",), gold_titles=("t1",)), hits) == 2
    assert gold_rank(EvalItem("q", ("TEXT 0",)), hits) == 1
    assert gold_rank(EvalItem("q", ("absent",)), hits) is None


def test_gold_rank_by_document_id_where_one_file_holds_many_documents() -> None:
    hits = [Hit(i, f"/c/w.json#T{i}", "/c/w.json", f"T{i}", 0.5, f"text {i}", 0, 6) for i in range(3)]
    item = EvalItem("q", ("a",), gold_sources=("/c/w.json",), gold_titles=("T2",), gold_doc_ids=("/c/w.json#T1",))
    assert gold_rank(item, hits) == 2, "the id decides, not the shared source (1) nor the title (3)"
    assert gold_rank(EvalItem("q", ("a",), gold_doc_ids=("/c/w.json#T9",)), hits) is None


def test_answer_in_the_prompt_needs_the_answer_in_a_gold_passage_not_only_the_gold_document() -> None:
    def passage(number: int, title: str, text: str) -> Passage:
        return Passage(number, f"d{number}", f"/c/{title}.txt", title, text, 0, len(text), (number,), 0.5)

    item = EvalItem("What does xargs run when no command is given?", ("echo",), gold_titles=("xargs",))
    options = passage(1, "xargs", "-r, --no-run-if-empty: if the input is empty, do not run the command.")
    described = passage(2, "xargs", "xargs executes the command (default is\n  echo) one or more times.")
    elsewhere = passage(3, "find", "find -exec echo {} + prints the names.")
    assert gold_rank(item, [options]) == 1, "the gold document is in the prompt"
    assert not answer_in_passages(item, [options, elsewhere]), "its answer is not: an echo in another manual is not it"
    assert answer_in_passages(item, [options, described])


def test_a_withheld_answer_is_scored_as_a_refusal_and_kept_with_what_it_cost() -> None:
    from pipelines.rag import Answer
    from pipelines.rag.answer import Evidence
    from pipelines.rag.eval import RagEvalReport, _score
    from pipelines.rag.refusal import REFUSAL_TEXT

    hit = Hit(1, "n", "/c/ninja.html", "Ninja", 0.7, "Ninja is a small build system.", 0, 30)
    items = [EvalItem("Which license is Ninja under?", ()), EvalItem("Who wrote Ninja?", ("Evan Martin",))]
    raws = ["Ninja is distributed under the MIT license.", "Ninja was written by Evan Martin."]
    report = RagEvalReport("t", 0.5, False)
    for item, raw in zip(items, raws):
        answer = Answer(item.question, REFUSAL_TEXT, raw, [], [], True, "ungrounded", 0.7, hits=[hit])
        report.items.append(_score(item, 1, Evidence([hit], 0.7), False, answer))
    assert [r.withheld for r in report.items] == raws and [r.refused for r in report.items] == [True, True]
    assert [r.containment for r in report.items] == [False, False], "a withheld answer is not given"
    summary = report.summary()
    assert (summary["refusal_rate"], summary["false_refusal_rate"], summary["withheld_right"]) == (1.0, 1.0, 1.0)


def test_calibration_picks_the_best_allowed_threshold() -> None:
    answerable, unanswerable = [0.62, 0.7, 0.8, 0.9, 0.95], [0.2, 0.3, 0.58, 0.65, 0.4]
    cal = calibrate_threshold(answerable, unanswerable, max_false_refusal=0.2)
    # 0.675 would also score 1.0 - 0.2; ties go to the lower threshold
    assert cal.threshold == pytest.approx(0.6) and (cal.refusal_rate, cal.false_refusal_rate) == (0.8, 0.0)
    strict = calibrate_threshold([0.5, 0.9], [0.6, 0.1], max_false_refusal=0.0)
    assert (strict.threshold, strict.refusal_rate, strict.false_refusal_rate) == (0.3, 0.5, 0.0)
    cv = cross_validate(answerable * 2, unanswerable * 2, folds=5)
    assert 0 <= cv.false_refusal_rate <= 1 and 0 <= cv.refusal_rate <= 1
    with pytest.raises(ValueError):
        calibrate_threshold([], [0.1])


def test_refusal_gate_and_text() -> None:
    policy = RefusalPolicy(0.5)
    assert (policy.gate(None), policy.gate(0.49), policy.gate(0.5)) == ("no_hits", "low_evidence", None)
    assert is_refusal_text("I could not find that in the documents.")
    assert not is_refusal_text("The Moon orbits Earth [1]. Nobody can not find it.")


FAQ = """\
=================
Programming FAQ
=================

General Questions
=================

Is there a debugger?
--------------------

Yes, see :mod:`pdb` and ``breakpoint()``.

Why?
----

Because `reasons <https://x.org>`_.

Not a question
--------------

Ignored text.

===================
Another title?
===================
"""


def test_parse_faq_takes_question_headings_and_their_sections() -> None:
    assert parse_faq(FAQ) == [("Is there a debugger?", "Yes, see pdb and breakpoint()."), ("Why?", "Because reasons.")]
    assert clean_rst(".. note::\n\nSee :ref:`the guide <x>`.") == "See the guide."


def test_load_jsonl_reads_the_shipped_refusal_set() -> None:
    items = load_jsonl(REPO / "data" / "eval" / "unanswerable_wiki.jsonl")
    answerable = [i for i in items if i.answerable]
    assert len(answerable) == 40 and len(items) == 80
    assert all(i.gold_titles for i in answerable) and len({i.question for i in items}) == 80


@pytest.mark.parametrize(
    "line", ['{"question": "q"}', '{"answers": []}', "not json", '["q", []]', '{"question": 1, "answers": []}']
)
def test_load_jsonl_rejects_bad_lines(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok?", "answers": ["x"]}\n' + line + "\n")
    with pytest.raises(DatasetError, match="bad.jsonl:2"):
        load_jsonl(path)
    with pytest.raises(DatasetError):
        load_jsonl(tmp_path / "missing.jsonl")


def test_evaluate_counts_refusals_hits_and_speed(phi3_folder: Path) -> None:
    rag = RAGPipeline(BagOfWordsRetriever(), TransformersGenerator(phi3_folder), k=2,
                      config=GenerationConfig(max_new_tokens=8), refusal=RefusalPolicy(0.3))
    items = [
        EvalItem("Who built the Eiffel Tower in Paris?", ("Gustave Eiffel",), gold_titles=("Paris",)),
        EvalItem("What does the blue whale eat?", ("krill",)),
        EvalItem("zebra quantum toaster", ()),
        EvalItem("knitting championship Paris 1997", ()),
    ]
    gate = evaluate(rag, items, gate_only=True).summary()
    assert (gate["hit@1"], gate["hit@5"]) == (0.5, 1.0)  # "krill" is in the whale text's second chunk
    assert (gate["gate_refusal_rate"], gate["gate_false_refusal_rate"]) == (1.0, 0.0)
    assert (gate["gate_refusal_rate_lowercase"], gate["gate_false_refusal_rate_lowercase"]) == (1.0, 0.0)
    assert "token_f1" not in gate and rag.generator._model is None  # type: ignore[attr-defined]
    full = evaluate(rag, items).summary()
    assert full["refusal_rate"] == 1.0 and 0 <= full["token_f1"] <= 1 and full["ttft_s"] > 0
    assert full["containment"] == 0.0  # a random model does not say "krill"
    assert full["answer_in_prompt"] == 1.0, "both answers were before the model: the misses are the generator's"
    assert math.isnan(full["citation_validity"]) or 0 <= full["citation_validity"] <= 1


class _CaseSensitiveRetriever:
    """Finds a passage only for a question with a capital letter: the lower-cased figure must then differ."""

    def search_with_gate(self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
                         source: str | None = None) -> tuple[list[Hit], float | None]:
        if query == query.lower():
            return [], None
        return [Hit(1, "d", "/c/paris.txt", "Paris", 0.9, "The Eiffel Tower is in Paris.", 0, 29)], 0.9

    def absent_words(self, query: str) -> list[str]:
        return []


def test_the_gate_is_measured_again_on_the_question_in_lower_case(phi3_folder: Path) -> None:
    rag = RAGPipeline(_CaseSensitiveRetriever(), TransformersGenerator(phi3_folder), k=2)  # type: ignore[arg-type]
    items = [EvalItem("Where is the Eiffel Tower?", ("Paris",)), EvalItem("where is my cat?", ())]
    report = evaluate(rag, items, gate_only=True)
    summary = report.summary()
    assert (summary["gate_false_refusal_rate"], summary["gate_false_refusal_rate_lowercase"]) == (0.0, 1.0)
    assert (summary["gate_refusal_rate"], summary["gate_refusal_rate_lowercase"]) == (1.0, 1.0)
    assert [r.gate_refused_lowercase for r in report.items] == [True, True]


def parser() -> argparse.ArgumentParser:
    from app.cli import ask

    p = argparse.ArgumentParser(prog="sift")
    sub = p.add_subparsers(dest="command", required=True)
    eval_sub = sub.add_parser("eval").add_subparsers(dest="eval_command", required=True)
    ask.register(sub, eval_sub)
    return p


def test_cli_options_reach_the_pipeline(phi3_folder: Path, tmp_path: Path) -> None:
    from app.cli.ask import _pipeline
    from app.workspace import Workspace

    args = parser().parse_args(["ask", "Why?", "--model-path", str(phi3_folder), "--temperature", "0.7", "--top-p",
                                "0.9", "--top-k", "40", "--max-tokens", "12", "--seed", "3", "-k", "4",
                                "--min-score", "0.2", "--mode", "dense"])
    rag = _pipeline(args, Workspace(tmp_path / "index"))
    assert rag.config == GenerationConfig(temperature=0.7, top_p=0.9, top_k=40, max_new_tokens=12, seed=3)
    assert (rag.k, rag.mode, rag.refusal.min_dense_score) == (4, "dense", 0.2)
    assert isinstance(rag.generator, TransformersGenerator)
    with pytest.raises(SystemExit):
        parser().parse_args(["ask", "q", "--preset", "phi-3-mini", "--model-path", "x"])


@pytest.mark.slow
def test_ask_and_eval_commands_on_a_real_index(
    phi3_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.workspace import Workspace

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in {"paris.txt": "Paris is the capital of France.", "whale.txt": "Blue whales eat krill."}.items():
        (docs / name).write_text(text)
    Workspace(tmp_path / "index").index([docs])
    common = ["--index", str(tmp_path / "index"), "--model-path", str(phi3_folder), "--max-tokens", "8"]
    args = parser().parse_args(["ask", "What is the capital of France?", "--json", "--min-score", "0.3", *common])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passages"][0]["source"].endswith("paris.txt") and out["metrics"]["completion_tokens"] == 8
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "What do blue whales eat?", "answers": ["krill"]}\n'
                         '{"question": "What is my cat called?", "answers": []}\n')
    args = parser().parse_args(["eval", "rag", "--jsonl", str(questions), "--json", "--gate-only", *common])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["hit@1"] == 1.0 and summary["questions"] == 2
