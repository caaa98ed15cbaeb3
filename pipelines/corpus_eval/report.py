"""The report on a question set over the user's own index: retrieval per mode, Ask's answers, the worst questions.

Nothing is measured twice: retrieval scores come from :func:`pipelines.retrieval_eval.evaluate_retrieval`
(relevant = the question's gold document), Ask's from :func:`pipelines.rag.eval.evaluate`; this module picks
the figures a reader of the collection needs and finds the questions that went worst.

Example:
    >>> report = corpus_report(rag, items, "q.jsonl", embedder, Path("data/index"), ChunkerConfig())  # doctest: +SKIP
    >>> report["retrieval"]["hybrid"]["hit@5"]                                                        # doctest: +SKIP
    0.95
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from pipelines.rag.answer import RAGPipeline
from pipelines.rag.datasets import EvalItem
from pipelines.rag.eval import ItemResult, evaluate
from pipelines.retrieval_data import has_gold, questions_set
from pipelines.retrieval_eval import evaluate_retrieval
from pipelines.search import MODES

RETRIEVAL_METRICS = ("hit@1", "hit@5", "mrr@10")
ASK_METRICS = {  # summary key of pipelines.rag.eval → what the table calls it
    "containment": "containment", "answers_citing_gold": "gold cited", "supported_sentences": "supported sentences",
    "refusal_rate": "refusal (unanswerable)", "false_refusal_rate": "false refusal (answerable)",
}
WORST = 5
_PASSAGE_CHARS = 240


def badness(result: ItemResult) -> int:
    """How badly one question went (0 = well; higher = worse), to pick the worst to show.

    An answerable question loses 3 when its gold document is not retrieved in the first 5, 1 when it is but not
    first, 2 when Ask refused it, 1 when the answer lacks the gold answer, 1 when a sentence is unsupported; an
    unanswerable question loses 4 when Ask answered it.

    Example:
        >>> from dataclasses import replace
        >>> base = ItemResult("q", True, 1, 0.7, False, False, None, True, 1.0, 1, 0, True, None, None, "a")
        >>> badness(base), badness(replace(base, gold_rank=None, containment=False))
        (0, 4)
    """
    if not result.answerable:
        return 0 if result.refused else 4
    score = 3 if result.gold_rank is None or result.gold_rank > 5 else int(result.gold_rank > 1)
    score += 2 * result.refused + (not result.containment)
    return score + int(result.supported_sentences < result.checked_sentences)


def worst(results: Sequence[ItemResult], n: int = WORST) -> list[ItemResult]:
    """The ``n`` questions with the highest :func:`badness` above 0, worst first (ties in set order)."""
    ranked = sorted((r for r in results if badness(r) > 0), key=badness, reverse=True)
    return ranked[:n]


def corpus_report(
    rag: RAGPipeline, items: Sequence[EvalItem], name: str, embedder: Embedder, index_dir: Path,
    chunking: ChunkerConfig, modes: Sequence[str] = MODES, progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score ``items`` on the index: retrieval of the gold document per mode, then Ask on every question.

    Returns:
        ``{"set", "questions", "answerable", "unanswerable", "model", "generator", "retrieval": {mode: {metric}},
        "ask": {metric}, "worst": [...]}``; a metric with nothing to count is None.
    """
    answerable = sum(item.answerable for item in items)
    judged = [item for item in items if item.answerable and has_gold(item)]
    retrieval: dict[str, dict[str, float | None]] = {}
    if judged:
        scores = evaluate_retrieval(questions_set(items, name), embedder, index_dir, None, chunking, modes)
        retrieval = {mode: {m: _clean(s[m]) for m in RETRIEVAL_METRICS} for mode, s in scores["results"].items()}
    asked = evaluate(rag, items, dataset=name, progress=progress)
    summary = asked.summary()
    return {
        "set": name, "questions": len(items), "answerable": answerable, "unanswerable": len(items) - answerable,
        "model": embedder.name, "generator": str(getattr(rag.generator, "name", "")),
        "retrieval": retrieval, "ask": {key: _clean(summary.get(key)) for key in ASK_METRICS},
        "worst": [_worst_entry(rag, items, r) for r in worst(asked.items)],
    }


def _worst_entry(rag: RAGPipeline, items: Sequence[EvalItem], result: ItemResult) -> dict[str, Any]:
    item = next(i for i in items if i.question == result.question)
    hits = rag.retrieve(result.question, k=1).hits
    top = None if not hits else {"title": hits[0].title, "source": hits[0].source,
                                 "text": _clip(hits[0].text, _PASSAGE_CHARS)}
    return {"question": result.question, "answers": list(item.answers),
            "gold": item.gold_titles[0] if item.gold_titles else None, "gold_rank": result.gold_rank,
            "refused": result.refused, "answer": result.answer, "badness": badness(result), "top_passage": top}


def _clean(value: Any) -> Any:
    """NaN (no question to count) → None, so ``--json`` is valid JSON."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def format_report(report: dict[str, Any]) -> str:
    """The report as the table ``sift eval corpus`` prints."""
    lines = [f"{report['set']}: {report['questions']} questions ({report['answerable']} answerable, "
             f"{report['unanswerable']} unanswerable); index model {report['model']}, generator {report['generator']}",
             "", f"{'retrieval (gold document)':<28}" + "".join(f"{m:>9}" for m in RETRIEVAL_METRICS)]
    if not report["retrieval"]:
        lines.append("  (no answerable question names its gold document)")
    for mode, scores in report["retrieval"].items():
        lines.append(f"{mode:<28}" + "".join(f"{_number(scores[m]):>9}" for m in RETRIEVAL_METRICS))
    lines += ["", "ask"] + [f"  {label:<26}{_number(report['ask'][key]):>9}" for key, label in ASK_METRICS.items()]
    if report["worst"]:
        lines += ["", "worst questions"]
    for number, entry in enumerate(report["worst"], start=1):
        expected = "; ".join(entry["answers"]) or "(not in the collection)"
        lines.append(f"{number}. {entry['question']}  — expected: {expected}")
        lines.append(f"   answer: {'(refused)' if entry['refused'] else _clip(entry['answer'], _PASSAGE_CHARS)}")
        top = entry["top_passage"]
        lines.append("   top passage: (none)" if top is None else f"   top passage: {top['title']} ({top['source']}): "
                     f"{top['text']}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
