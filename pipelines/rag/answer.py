"""Answer questions from the index: retrieve, gate on evidence, prompt, generate, cite.

Example:
    >>> from app.workspace import Workspace
    >>> from pipelines.generation import load_generator
    >>> rag = RAGPipeline(Workspace("data/index"), load_generator("smollm2-135m"))  # doctest: +SKIP
    >>> answer = rag.ask("Who painted the Mona Lisa?")                           # doctest: +SKIP
    >>> answer.text, [c.title for c in answer.citations]                         # doctest: +SKIP
    ('Leonardo da Vinci painted the Mona Lisa [1].', ['Mona Lisa'])
    >>> for item in rag.stream("Who painted the Mona Lisa?"):                    # doctest: +SKIP
    ...     print(item if isinstance(item, str) else "", end="")
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from indexing.errors import ConfigError
from indexing.types import Hit
from pipelines.generation.base import GenerationConfig, GenerationMetrics, Generator
from pipelines.rag.citations import Citation, resolve_citations
from pipelines.rag.prompt import SYSTEM_PROMPT, Passage, PromptReport, build_prompt
from pipelines.rag.refusal import REFUSAL_TEXT, RefusalPolicy, is_refusal_text


class Retriever(Protocol):
    """What the pipeline needs from an index (``app.workspace.Workspace`` fits)."""

    def search(self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None) -> list[Hit]:
        """Top-k chunks; ``mode="dense"`` scores are cosine similarities."""
        ...


@dataclass(frozen=True)
class Evidence:
    """What retrieval found for a question.

    Attributes:
        hits: the chunks to build passages from, best first.
        best_dense: cosine similarity of the best dense hit (None: nothing found).
    """

    hits: list[Hit]
    best_dense: float | None


@dataclass(frozen=True)
class Answer:
    """A generated (or refused) answer with its sources.

    Attributes:
        question: the question asked.
        text: the answer, with references to passages that do not exist removed.
        raw_text: what the model generated (what was streamed).
        citations: the cited passages, in order of first citation.
        passages: the numbered passages the model saw.
        refused: True when no answer was given.
        refusal_reason: ``"no_hits"``, ``"low_evidence"`` (the model was not called) or ``"model"``.
        best_dense: cosine similarity of the best dense hit.
        invalid_citations: references to passages that did not exist, removed from ``text``.
        prompt: how the context window was spent (None when the model was not called).
        metrics: token counts and timings (None when the model was not called).
    """

    question: str
    text: str
    raw_text: str
    citations: list[Citation]
    passages: list[Passage]
    refused: bool
    refusal_reason: str | None
    best_dense: float | None
    invalid_citations: int = 0
    prompt: PromptReport | None = None
    metrics: GenerationMetrics | None = None
    hits: list[Hit] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``sift ask --json`` schema)."""
        return {
            "question": self.question,
            "answer": self.text,
            "raw_answer": self.raw_text,
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "best_dense_score": None if self.best_dense is None else round(float(self.best_dense), 6),
            "citations": [c.to_dict() for c in self.citations],
            "invalid_citations": self.invalid_citations,
            "passages": [p.to_dict() for p in self.passages],
            "prompt": self.prompt.to_dict() if self.prompt else None,
            "metrics": self.metrics.to_dict() if self.metrics else None,
        }


class RAGPipeline:
    """Retrieval-augmented answering over any :class:`Retriever` with any generator.

    The constructor stores its parts; the generator loads on :meth:`warm_up` or the first
    answer that needs it (refusals never load it).

    Args:
        retriever: the index, e.g. a ``Workspace``.
        generator: a :class:`~pipelines.generation.base.Generator`.
        k: chunks retrieved per question.
        mode: retrieval mode for the passages (``"hybrid"``, ``"dense"``, ``"bm25"``).
        config: default decoding options; ``max_new_tokens`` is the answer budget.
        refusal: the evidence gate.
        system_prompt: the rules given to the model.
    """

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        *,
        k: int = 5,
        mode: str = "hybrid",
        config: GenerationConfig | None = None,
        refusal: RefusalPolicy | None = None,
        system_prompt: str = SYSTEM_PROMPT,
    ) -> None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        self.retriever = retriever
        self.generator = generator
        self.k = k
        self.mode = mode
        self.config = config or GenerationConfig()
        self.refusal = refusal or RefusalPolicy()
        self.system_prompt = system_prompt

    def warm_up(self) -> None:
        """Load the generator now."""
        self.generator.warm_up()

    def retrieve(self, question: str, *, k: int | None = None, where: dict[str, str] | None = None) -> Evidence:
        """Passages' chunks in the pipeline's mode, plus the best dense cosine for the evidence gate."""
        if not question.strip():
            raise ConfigError("the question is empty: type a question to ask")
        hits = self.retriever.search(question, k=k or self.k, mode=self.mode, where=where)
        if self.mode == "dense":
            best = hits[0].score if hits else None
        else:
            dense = self.retriever.search(question, k=1, mode="dense", where=where)
            best = dense[0].score if dense else None
        return Evidence(hits, None if best is None else float(best))

    def ask(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None,
        config: GenerationConfig | None = None,
    ) -> Answer:
        """Answer in one call (the generator's non-streaming path)."""
        return self.answer(question, self.retrieve(question, k=k, where=where), config=config)

    def stream(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None,
        config: GenerationConfig | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text pieces as they are generated, then the final :class:`Answer`."""
        return self.answer_stream(question, self.retrieve(question, k=k, where=where), config=config)

    def answer(self, question: str, evidence: Evidence, *, config: GenerationConfig | None = None) -> Answer:
        """Answer from already retrieved evidence (non-streaming)."""
        config = config or self.config
        refused = self._refuse(question, evidence)
        if refused is not None:
            return refused
        built = build_prompt(question, evidence.hits, self.generator, answer_tokens=config.max_new_tokens,
                             system=self.system_prompt)
        result = self.generator.generate(built.prompt, config)
        return self._finish(question, evidence, built.passages, built.report, result.text, result.metrics)

    def answer_stream(
        self, question: str, evidence: Evidence, *, config: GenerationConfig | None = None
    ) -> Iterator[str | Answer]:
        """Streaming form of :meth:`answer`: text pieces, then the :class:`Answer`."""
        config = config or self.config
        refused = self._refuse(question, evidence)
        if refused is not None:
            yield refused.text
            yield refused
            return
        built = build_prompt(question, evidence.hits, self.generator, answer_tokens=config.max_new_tokens,
                             system=self.system_prompt)
        stream = self.generator.stream(built.prompt, config)
        yield from stream
        result = stream.result
        yield self._finish(question, evidence, built.passages, built.report, result.text, result.metrics)

    def _refuse(self, question: str, evidence: Evidence) -> Answer | None:
        reason = "no_hits" if not evidence.hits else self.refusal.gate(evidence.best_dense)
        if reason is None:
            return None
        return Answer(question, REFUSAL_TEXT, REFUSAL_TEXT, [], [], True, reason, evidence.best_dense,
                      hits=evidence.hits)

    def _finish(
        self, question: str, evidence: Evidence, passages: list[Passage], report: PromptReport, raw: str,
        metrics: GenerationMetrics,
    ) -> Answer:
        resolved = resolve_citations(raw, passages)
        refused = is_refusal_text(resolved.text)
        return Answer(
            question, resolved.text.strip(), raw, resolved.citations, passages, refused, "model" if refused else None,
            evidence.best_dense, resolved.invalid, report, metrics, evidence.hits,
        )
