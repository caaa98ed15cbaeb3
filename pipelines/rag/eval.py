"""Evaluate RAG answers: retrieval of the gold passage, answer quality, citations, refusals, speed.

Metrics (answerable questions unless said otherwise):

- ``hit@1`` / ``hit@5``: a gold document (by source path or title; failing both, any retrieved
  chunk containing a gold answer) is among the first 1 / 5 retrieved chunks.
- ``gold_in_prompt``: a gold passage is among those packed into the prompt's passage budget.
- ``answer_in_prompt``: a gold passage in the prompt holds a gold answer word for word. With it a miss can be
  put down to retrieval (the answer was not before the model) or to the generator (it was); a gold *document*
  in the prompt is not enough for a long manual, whose other passages say nothing on the question.
- ``containment``: a gold answer appears in the answer (case- and space-insensitive).
- ``token_f1``: SQuAD token F1 against the best-matching gold answer (a refusal scores 0).
- ``citation_validity``: share of all citations that name a passage that exists.
- ``answers_citing_gold``: answered (not refused) answerable questions whose answer cites a gold passage;
  ``answers_citing_gold_raw``: the same for the citations the model wrote, before
  :mod:`pipelines.rag.attribution` pointed supported sentences at their supporting passage.
- ``supported_sentences``: answer sentences (of all answers given) that :mod:`pipelines.rag.support`
  finds in a passage, out of those it checks.
- ``loop_rate``: generated answers that repeat a word 6-gram 3 times (a decoding bug, target 0).
- ``withheld_rate``: generated answers refused because no sentence stood on a passage
  (:mod:`pipelines.rag.checked_text`); ``withheld_right``: answerable questions whose withheld answer held a
  gold answer, what that refusal cost. Each item also lists its ``absent_words``: the question's rare words
  that no indexed document holds (:meth:`pipelines.search.Searcher.absent_words`).
- ``second_looks``: questions the model refused and was asked again without the refusal rule
  (:mod:`pipelines.rag.second_look`); ``second_looks_kept``: those whose second answer replaced the refusal,
  and ``second_looks_kept_unanswerable`` the unanswerable among them (each one a refusal lost).
- ``refusal_rate`` (unanswerable questions refused) and ``false_refusal_rate`` (answerable ones);
  ``gate_refusal_rate`` / ``gate_false_refusal_rate``: the same for the evidence gate alone, and
  ``..._lowercase``: the gate's for each question typed in lower case (retrieved again), which should
  decide as it does for the question as written.
- ``ttft_s`` / ``tpot_s``: mean time to first token and per output token of the generator;
  ``prompt_tokens``: mean prompt length of the generated answers.

Example:
    >>> report = evaluate(rag, load_jsonl(Path("data/eval/unanswerable_wiki.jsonl")))  # doctest: +SKIP
    >>> report.summary()["refusal_rate"]                                              # doctest: +SKIP
    0.85
"""

from __future__ import annotations

import math
import re
import statistics
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from indexing.datatypes import Hit
from pipelines.generation.base import repeated_ngram
from pipelines.rag.answer import Answer, Evidence, RAGPipeline
from pipelines.rag.citations import resolve_citations
from pipelines.rag.datasets import EvalItem
from pipelines.rag.prompt import Passage
from pipelines.rag.refusal import calibrate_threshold, cross_validate


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    Example:
        >>> normalize("The  Eiffel-Tower!")
        'eiffeltower'
    """
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of two texts after :func:`normalize`.

    Example:
        >>> round(token_f1("Paris, France", "Paris"), 3)
        0.667
    """
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """True when some answer occurs in ``text`` (case-insensitive, whitespace collapsed)."""
    hay = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in hay for a in answers if a.strip())


def gold_rank(item: EvalItem, hits: Sequence[Hit]) -> int | None:
    """1-based rank of the first gold hit, or None: by document id where the item names one, else by source
    or title, else the first hit holding an answer."""
    if item.gold_doc_ids:
        ids = set(item.gold_doc_ids)
        return next((position for position, hit in enumerate(hits, start=1) if hit.doc_id in ids), None)
    sources = {str(Path(s).resolve()) for s in item.gold_sources}
    titles = {t.casefold() for t in item.gold_titles}
    for position, hit in enumerate(hits, start=1):
        if sources or titles:
            if str(Path(hit.source).resolve()) in sources or hit.title.casefold() in titles:
                return position
        elif contains_answer(hit.text, item.answers):
            return position
    return None


def answer_in_passages(item: EvalItem, passages: Sequence[Passage]) -> bool:
    """True when a gold passage among ``passages`` holds one of the item's answers word for word."""
    return any(gold_rank(item, [p]) == 1 and contains_answer(p.text, item.answers)  # type: ignore[list-item]
               for p in passages)


@dataclass(frozen=True)
class ItemResult:
    """What happened to one question."""

    question: str
    answerable: bool
    gold_rank: int | None
    best_dense: float | None
    gate_refused: bool
    refused: bool
    refusal_reason: str | None
    containment: bool
    f1: float
    valid_citations: int
    invalid_citations: int
    cites_gold: bool
    ttft_s: float | None
    tpot_s: float | None
    answer: str
    checked_sentences: int = 0
    supported_sentences: int = 0
    loop: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    gold_in_prompt: bool | None = None
    cites_gold_raw: bool = False
    gate_refused_lowercase: bool | None = None
    answer_in_prompt: bool | None = None
    withheld: str | None = None  # the model's answer when it was refused for standing on no passage
    withheld_contains: bool = False  # ... and it held a gold answer
    absent_words: tuple[str, ...] = ()  # the question's rare words that no indexed document holds
    second_look: str | None = None  # "kept" / "refused": the model refused and was asked again (Answer.second_look)


@dataclass
class RagEvalReport:
    """Per-question results and their summary."""

    dataset: str
    threshold: float
    gate_only: bool
    items: list[ItemResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Aggregate metrics (NaN where a metric has no questions to count)."""
        ans = [r for r in self.items if r.answerable]
        una = [r for r in self.items if not r.answerable]
        cites = sum(r.valid_citations + r.invalid_citations for r in self.items)
        out: dict[str, Any] = {
            "dataset": self.dataset, "questions": len(self.items), "answerable": len(ans), "unanswerable": len(una),
            "threshold": self.threshold, "gate_only": self.gate_only,
            "hit@1": _mean([r.gold_rank == 1 for r in ans]),
            "hit@5": _mean([r.gold_rank is not None and r.gold_rank <= 5 for r in ans]),
            "gold_in_prompt": _mean([r.gold_in_prompt for r in ans if r.gold_in_prompt is not None]),
            "answer_in_prompt": _mean([r.answer_in_prompt for r in ans if r.answer_in_prompt is not None]),
            "gate_refusal_rate": _mean([r.gate_refused for r in una]),
            "gate_false_refusal_rate": _mean([r.gate_refused for r in ans]),
            "gate_refusal_rate_lowercase": _mean([r.gate_refused_lowercase for r in una
                                                  if r.gate_refused_lowercase is not None]),
            "gate_false_refusal_rate_lowercase": _mean([r.gate_refused_lowercase for r in ans
                                                        if r.gate_refused_lowercase is not None]),
        }
        if not self.gate_only:
            out.update({
                "containment": _mean([r.containment for r in ans]),
                "token_f1": _mean([r.f1 for r in ans]),
                "citation_validity": sum(r.valid_citations for r in self.items) / cites if cites else math.nan,
                "answers_citing_gold": _mean([r.cites_gold for r in ans if not r.refused]),
                "answers_citing_gold_raw": _mean([r.cites_gold_raw for r in ans if not r.refused]),
                "refusal_rate": _mean([r.refused for r in una]),
                "false_refusal_rate": _mean([r.refused for r in ans]),
                "supported_sentences": _ratio(sum(r.supported_sentences for r in self.items),
                                              sum(r.checked_sentences for r in self.items)),
                "loop_rate": _mean([r.loop for r in self.items if r.prompt_tokens is not None]),
                "withheld_rate": _mean([r.withheld is not None for r in self.items if r.prompt_tokens is not None]),
                "withheld_right": _mean([r.withheld is not None and r.withheld_contains for r in ans]),
                "second_looks": sum(r.second_look is not None for r in self.items),
                "second_looks_kept": sum(r.second_look == "kept" for r in self.items),
                "second_looks_kept_unanswerable": sum(r.second_look == "kept" for r in una),
                "ttft_s": _mean([r.ttft_s for r in self.items if r.ttft_s is not None]),
                "tpot_s": _mean([r.tpot_s for r in self.items if r.tpot_s is not None]),
                "prompt_tokens": _mean([r.prompt_tokens for r in self.items if r.prompt_tokens is not None]),
                "completion_tokens": _mean([r.completion_tokens for r in self.items
                                            if r.completion_tokens is not None]),
            })
        scores = [(r.best_dense, r.answerable) for r in self.items if r.best_dense is not None]
        answerable, unanswerable = [s for s, a in scores if a], [s for s, a in scores if not a]
        if len(answerable) >= 5 and len(unanswerable) >= 5:
            out["calibrated_threshold"] = asdict(calibrate_threshold(answerable, unanswerable))
            out["calibration_5fold"] = asdict(cross_validate(answerable, unanswerable))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Summary plus per-question results (the ``--json`` schema)."""
        return {"summary": self.summary(), "items": [asdict(r) for r in self.items]}


def _mean(values: Sequence[float | bool]) -> float:
    return float(statistics.fmean(values)) if values else math.nan


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def evaluate(
    rag: RAGPipeline,
    items: Sequence[EvalItem],
    *,
    dataset: str = "custom",
    gate_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    prompt_check: bool = False,
) -> RagEvalReport:
    """Run every question through retrieval (top 5 at least, for hit@5) and, unless ``gate_only``, the model.

    ``gold_in_prompt`` is measured on the prompts the model saw; ``prompt_check`` also builds the prompt
    of questions the gate refused (and of every question when ``gate_only``), which loads the
    generator's tokenizer.
    """
    report = RagEvalReport(dataset, rag.refusal.min_dense_score, gate_only)
    for done, item in enumerate(items, start=1):
        evidence = rag.retrieve(item.question, k=max(5, rag.k))
        rank = gold_rank(item, evidence.hits)
        gate = _gate_refuses(rag, item.question, evidence)
        lower = item.question.lower()
        gate_lower = gate if lower == item.question else _gate_refuses(rag, lower, rag.retrieve(lower, k=rag.k))
        given = Evidence(evidence.hits[: rag.k], evidence.best_dense, evidence.query, evidence.absent)
        answer = None if gate_only else rag.answer(item.question, given)
        shown: Sequence[Passage] | None = None
        if item.answerable and answer is not None and answer.passages:
            shown = answer.passages
        elif item.answerable and given.hits and prompt_check:  # refused before asking: what it would have seen
            shown = rag.build_prompt(item.question, given).passages
        in_prompt = None if shown is None else gold_rank(item, shown) is not None  # type: ignore[arg-type]  # passages quack like hits
        answer_shown = None if shown is None or not item.answers else answer_in_passages(item, shown)
        report.items.append(replace(_score(item, rank, evidence, gate, answer), gold_in_prompt=in_prompt,
                                    gate_refused_lowercase=gate_lower, answer_in_prompt=answer_shown))
        if progress is not None:
            progress(done, len(items))
    return report


def _gate_refuses(rag: RAGPipeline, question: str, evidence: Evidence) -> bool:
    texts = [h.text for h in evidence.hits[: rag.k]]
    return rag.refusal.gate(evidence.best_dense, question, texts) is not None or not evidence.hits


def _score(item: EvalItem, rank: int | None, evidence: Evidence, gate: bool, answer: Answer | None) -> ItemResult:
    if answer is None:
        return ItemResult(item.question, item.answerable, rank, evidence.best_dense, gate, gate, None, False, 0.0,
                          0, 0, False, None, None, "", absent_words=evidence.absent)
    text = "" if answer.refused else answer.text
    cited = {(c.source, c.title) for c in answer.citations}
    cited_raw = {(c.source, c.title) for c in resolve_citations(answer.raw_text, answer.passages).citations}
    gold_hits = [h for h in evidence.hits if gold_rank(item, [h]) == 1]
    metrics = answer.metrics
    checked = [s for s in answer.support.sentences if s.checked] if answer.support else []
    return ItemResult(
        item.question, item.answerable, rank, evidence.best_dense, gate, answer.refused, answer.refusal_reason,
        contains_answer(text, item.answers), max((token_f1(text, a) for a in item.answers), default=0.0),
        sum(c.count for c in answer.citations), answer.invalid_citations,
        any((h.source, h.title) in cited for h in gold_hits),
        metrics.ttft_s if metrics else None, metrics.tpot_s if metrics else None, answer.text,
        len(checked), sum(s.supported for s in checked),
        metrics is not None and repeated_ngram(answer.raw_text) is not None,
        metrics.prompt_tokens if metrics else None, metrics.completion_tokens if metrics else None,
        cites_gold_raw=any((h.source, h.title) in cited_raw for h in gold_hits),
        withheld=answer.raw_text.strip() if answer.refusal_reason == "ungrounded" else None,
        withheld_contains=answer.refusal_reason == "ungrounded" and contains_answer(answer.raw_text, item.answers),
        absent_words=evidence.absent, second_look=answer.second_look,
    )
