"""Write an evaluation set from the user's own chunks with the local generator, keeping what passes the checks.

For each sampled chunk the generator (with its own chat template, as Ask prompts it) writes one question and a
short answer quoted from the chunk; :func:`~pipelines.corpus_eval.checks.answerable_rejection` decides whether it
is kept. About :data:`UNANSWERABLE_SHARE` of the set are questions the collection should not answer: the generator
is shown a chunk and asked for a question on a related subject that the chunk does not answer, with the answer it
would expect; such a question is kept when Ask's evidence gate refuses it and none of the passages retrieved for
it holds that answer (:func:`~pipelines.corpus_eval.checks.unanswerable_rejection`).

Generation is the slow part (one generator call per candidate, ~10 s with the default 1.5B model on 2 cores), so
each kept question is appended to the set file at once and a rerun with the same file goes on from there.

Example:
    >>> rows, tally = build_set(ws.rag(), candidates(ws.sample_chunks(60)), 25, Path("q.jsonl"))  # doctest: +SKIP
    >>> tally.calls, tally.rejected.most_common(1)                                            # doctest: +SKIP
    (41, [('answer_not_in_chunk', 9)])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError
from pipelines.corpus_eval.checks import (
    answer_span,
    answerable_rejection,
    parse_question_answer,
    unanswerable_rejection,
)
from pipelines.corpus_eval.questions import (
    Candidate,
    Kind,
    answerable_row,
    append_row,
    kind_of,
    read_set,
    resume_position,
    unanswerable_row,
)
from pipelines.generation.base import GenerationConfig, Generator
from pipelines.rag.answer import RAGPipeline
from pipelines.rag.prompt import render

UNANSWERABLE_SHARE = 0.2
MAX_CHUNK_CHARS = 1500  # the prompt shows at most this much of a chunk: a question needs a passage, not a file
_EXAMPLE = ("Example passage: The Golden Gate Bridge opened in 1937 and spans the strait at the entrance to "
            "San Francisco Bay.\n")
EXAMPLE_QUESTIONS = ("When did the Golden Gate Bridge open?", "Who chose the colour of the Golden Gate Bridge?")
"""The prompts' example questions: a small model may hand one back, so each counts as already kept."""
ANSWERABLE_PROMPT = (
    "You write quiz questions about a collection of documents. Read the passage and write one question that a "
    "reader of the collection could ask, and its short answer copied word for word from the passage. The question "
    "must make sense on its own: name what it is about, never say 'the passage' or 'this text'. Use your own "
    "words, not a sentence of the passage. Reply in exactly two lines.\n\n"
    f"{_EXAMPLE}Question: {EXAMPLE_QUESTIONS[0]}\nAnswer: 1937"
)
UNANSWERABLE_PROMPT = (
    "You write quiz questions about a collection of documents. Read the passage and write one question on a "
    "related subject that the passage does not answer, and the short answer you would expect. The question must "
    "make sense on its own: name what it is about, never say 'the passage' or 'this text'. Reply in exactly two "
    f"lines.\n\n{_EXAMPLE}Question: {EXAMPLE_QUESTIONS[1]}\nAnswer: Irving Morrow"
)


def candidates(chunks: Sequence[Any]) -> list[Candidate]:
    """:class:`Candidate` of each stored chunk (``ChunkRecord``: ``id``, ``doc_id``, ``title``, ``source`` …)."""
    return [Candidate(c.id, c.doc_id, c.title, c.source, c.text, c.start, c.end) for c in chunks]


def quotas(n: int) -> dict[Kind, int]:
    """Answerable and unanswerable questions wanted in a set of ``n``.

    Example:
        >>> quotas(25), quotas(1)
        ({'answerable': 20, 'unanswerable': 5}, {'answerable': 1, 'unanswerable': 0})
    """
    unanswerable = round(UNANSWERABLE_SHARE * n)
    return {"answerable": n - unanswerable, "unanswerable": unanswerable}


def attempt_cap(missing: int) -> int:
    """Most generator calls a run makes to write ``missing`` questions: twice as many, and at least 8 more.

    Example:
        >>> attempt_cap(25), attempt_cap(3), attempt_cap(0)
        (50, 11, 0)
    """
    return 0 if missing <= 0 else max(2 * missing, missing + 8)


@dataclass
class Tally:
    """What a run of :func:`build_set` did: lines reused from the file, new ones kept, generator calls, rejections."""

    reused: int = 0
    kept: int = 0
    calls: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"reused": self.reused, "kept": self.kept, "generator_calls": self.calls,
                "rejected": dict(sorted(self.rejected.items()))}

    def line(self) -> str:
        """One line for a person, e.g. ``questions: 0 reused, 3 new from 9 generator calls; rejected: parse 6``."""
        rejected = ", ".join(f"{why} {count}" for why, count in sorted(self.rejected.items())) or "none"
        return (f"questions: {self.reused} reused, {self.kept} new from {self.calls} generator calls; "
                f"rejected: {rejected}")


class QuestionWriter:
    """Asks the generator for one (question, answer) about a chunk; counts its calls.

    Args:
        generator: any :class:`~pipelines.generation.base.Generator` (Ask's shared one is fine).
        max_new_tokens: budget of one reply (a question and a short answer).
    """

    def __init__(self, generator: Generator, max_new_tokens: int = 64) -> None:
        self.generator = generator
        self.config = GenerationConfig(max_new_tokens=max_new_tokens)
        self.calls = 0

    def prompt(self, text: str, kind: Kind) -> str:
        """The rendered prompt; it ends with "Question:" so that the reply starts with the question."""
        system = ANSWERABLE_PROMPT if kind == "answerable" else UNANSWERABLE_PROMPT
        passage = " ".join(text.split())[:MAX_CHUNK_CHARS]
        return render(self.generator, [{"role": "system", "content": system},
                                       {"role": "user", "content": f"Passage: {passage}"}]) + "Question:"

    def write(self, text: str, kind: Kind) -> tuple[str, str] | None:
        """The (question, answer) the model writes about ``text``, or None when its reply has not that form."""
        self.calls += 1
        return parse_question_answer(self.generator.generate(self.prompt(text, kind), self.config).text)


def build_set(
    rag: RAGPipeline, chunks: Sequence[Candidate], n: int, path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], Tally]:
    """The evaluation set: the lines already in ``path`` and new ones until it holds ``n`` (or candidates run out).

    Args:
        rag: Ask's pipeline: its generator writes, its retrieval and evidence gate judge unanswerable questions.
        chunks: candidates in the order to try them (:meth:`Workspace.sample_chunks` order); unanswerable
            questions take them from the other end, so the two kinds come from different documents first.
        n: questions wanted in all.
        path: the set file (appended to as questions are kept); None keeps the set in memory.
        progress: called with (questions in the set, n) after each generator call.

    Raises:
        ConfigError: ``n`` below 1.
        DatasetError: ``path`` holds lines the readers refuse.
    """
    if n < 1:
        raise ConfigError(f"--questions must be at least 1, got {n}")
    rows = read_set(path) if path is not None else []
    tally = Tally(reused=len(rows))
    writer = QuestionWriter(rag.generator)
    orders: dict[Kind, list[Candidate]] = {"answerable": list(chunks), "unanswerable": list(chunks)[::-1]}
    queues = {kind: _queue(order, rows, kind) for kind, order in orders.items()}
    want = quotas(n)
    for attempt in range(attempt_cap(n - len(rows))):
        kind = _next_kind(attempt, rows, want, queues)
        if kind is None:
            break
        chunk = queues[kind].pop(0)
        row, why = _attempt(writer, rag, chunk, kind, [*EXAMPLE_QUESTIONS, *(r["question"] for r in rows)])
        tally.calls = writer.calls
        if row is None:
            tally.rejected[why or "parse"] += 1
        else:
            rows.append(row)
            tally.kept += 1
            if path is not None:
                append_row(path, row)
        if progress is not None:
            progress(min(len(rows), n), n)
    return rows, tally


def _queue(order: list[Candidate], rows: Sequence[dict[str, Any]], kind: Kind) -> list[Candidate]:
    """The candidates of ``kind`` still to try: those after where an earlier run stopped."""
    return order[resume_position([c.chunk_id for c in order], rows, kind):]


def _next_kind(
    attempt: int, rows: Sequence[dict[str, Any]], want: dict[Kind, int], queues: dict[Kind, list[Candidate]],
) -> Kind | None:
    """Every fifth attempt is for an unanswerable question; a kind whose quota is met or whose candidates ran
    out gives its turn to the other; None when neither can go on."""
    have = Counter(kind_of(r) for r in rows)
    open_kinds: list[Kind] = [k for k in ("answerable", "unanswerable") if have[k] < want[k] and queues[k]]
    if not open_kinds:
        return None
    preferred: Kind = "unanswerable" if attempt % 5 == 4 else "answerable"
    return preferred if preferred in open_kinds else open_kinds[0]


def _attempt(
    writer: QuestionWriter, rag: RAGPipeline, chunk: Candidate, kind: Kind, kept: list[str],
) -> tuple[dict[str, Any] | None, str | None]:
    """One generator call: the line to keep, or None and why not."""
    written = writer.write(chunk.text, kind)
    if written is None:
        return None, "parse"
    question, answer = written
    if kind == "answerable":
        why = answerable_rejection(question, answer, chunk.text, kept)
        return (None, why) if why else (answerable_row(question, _span(answer, chunk.text), chunk), None)
    evidence = rag.retrieve(question)
    refused = rag.gate(question, evidence) is not None
    why = unanswerable_rejection(question, answer, chunk.text, kept, refused, [h.text for h in evidence.hits])
    return (None, why) if why else (unanswerable_row(question, answer, chunk), None)


def _span(answer: str, text: str) -> str:
    span = answer_span(answer, text)
    assert span is not None  # answerable_rejection checked it
    return " ".join(span.split())

