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

import collections.abc
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from indexing.datatypes import Hit
from indexing.errors import ConfigError
from pipelines.generation.base import GenerationConfig, GenerationMetrics, GenerationResult, Generator
from pipelines.rag.answer_length import DEFAULT_ANSWER_LENGTH, check_length, choose_length
from pipelines.rag.checked_text import CheckedText
from pipelines.rag.citations import Citation, resolve_citations
from pipelines.rag.events import AskEvent, Done, Held, Retrieved, Token
from pipelines.rag.prompt import (
    EXPLAIN_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    BuiltPrompt,
    Passage,
    PromptReport,
    Turn,
    build_prompt,
)
from pipelines.rag.refusal import REFUSAL_TEXT, RefusalPolicy, is_refusal_text
from pipelines.rag.second_look import OPENING, accepted, combined, second_look_enabled, without_refusal_rule
from pipelines.rag.support import SupportReport

if TYPE_CHECKING:
    import numpy as np

    from pipelines.rag.locate import Location

DEFAULT_PASSAGE_TOKENS = 768  # passages' share of the prompt; see RAGPipeline


class Retriever(Protocol):
    """What the pipeline needs from an index (``app.workspace.Workspace`` fits)."""

    def search_with_gate(
        self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
        source: str | None = None,
    ) -> tuple[list[Hit], float | None]:
        """Top-k chunks in ``mode`` and the best dense cosine of the query, from one search of one snapshot."""
        ...

    def absent_words(self, query: str) -> list[str]:
        """The rare words of ``query`` (names, identifiers) that no indexed document holds."""
        ...


@dataclass(frozen=True)
class Evidence:
    """What retrieval found for a question.

    Attributes:
        hits: the chunks to build passages from, best first.
        best_dense: cosine similarity of the best dense hit (None: nothing found).
        query: the text that was searched (a follow-up's standalone rewrite; "" when not recorded).
        absent: the rare words of the query that no indexed document holds ("lz4" asked of manuals that
            never name it): passages may be close to the question, but none is about them.
    """

    hits: list[Hit]
    best_dense: float | None
    query: str = ""
    absent: tuple[str, ...] = ()


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
        refusal_reason: ``"no_hits"``, ``"low_evidence"`` (the model was not called), ``"model"`` (it said the
            passages do not hold the answer) or ``"ungrounded"`` (it answered, but no sentence cited a passage or
            was supported by one; ``raw_text`` keeps what it wrote).
        best_dense: cosine similarity of the best dense hit.
        invalid_citations: references to passages that did not exist, removed from ``text``.
        prompt: how the context window was spent (None when the model was not called).
        metrics: token counts and timings (None when the model was not called).
        support: each answer sentence's supporting passage and span, or its "not found" flag
            (None when refused or not checked).
        citations_moved: supported sentences whose citation was pointed at the passage that supports
            them (:mod:`pipelines.rag.attribution`); ``raw_text`` keeps what the model cited.
        answer_length: ``"brief"`` or ``"explain"``, the rules the model was given
            (:mod:`pipelines.rag.answer_length`); None when it was not asked or got a custom system prompt.
        finish_reason: why the answer ended: ``"stop"`` (the model finished, or a stop sequence),
            ``"length"`` (the token budget cut it), ``"repetition"`` (a loop was cut) or ``"refused"``
            (the evidence gate refused before the model was asked).
        query: what retrieval searched with (a follow-up's standalone rewrite).
        absent: the rare words of the query that no indexed document holds (:attr:`Evidence.absent`).
        second_look: ``"kept"`` when the model refused and its second answer, asked without the refusal rule,
            replaced the refusal; ``"refused"`` when that second answer did not stand on the passages and the
            refusal stayed; None when there was no second look (:mod:`pipelines.rag.second_look`).
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
    support: SupportReport | None = None
    citations_moved: int = 0
    answer_length: str | None = None
    finish_reason: str = "stop"
    query: str = ""
    absent: tuple[str, ...] = ()
    second_look: str | None = None

    @property
    def usage(self) -> dict[str, int]:
        """Tokens the model really read and wrote (zeros when it was not called), OpenAI's ``usage`` shape."""
        m = self.metrics
        prompt, completion = (m.prompt_tokens, m.completion_tokens) if m else (0, 0)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

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
            "support": self.support.to_dict() if self.support else None,
            "citations_moved": self.citations_moved,
            "answer_length": self.answer_length,
            "finish_reason": self.finish_reason,
            "query": self.query,
            "absent_words": list(self.absent),
            "second_look": self.second_look,
            "usage": self.usage,
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
        system_prompt: the rules given to the model (None: chosen by ``answer_length``).
        answer_length: ``brief`` (default: one or two sentences), ``explain`` (a short paragraph) or ``auto``
            (how/why questions explained, others brief: :mod:`pipelines.rag.answer_length`); unused when
            ``system_prompt`` is given.
        passage_tokens: most prompt tokens the passages take (None: what the window leaves). The
            default, 768, put a gold passage in the prompt as often as no cap did on the wiki, cross-
            article and Python FAQ sets (1.000, 0.950, 0.914 with k=5; 512 tokens: 0.975, 0.950, 0.880),
            and a shorter prompt is a shorter time to first token on a CPU.
        embed: texts → unit vectors, for checking each answer sentence against the passages
            (None: the check is lexical only).
        locate: passage → where it is in its source (page, heading, line), for citations.
        check_support: check every answer sentence against the passages.
        align_citations: make each supported sentence cite its supporting passage (needs ``check_support``).
        second_look: when the model refuses, ask once more without the refusal rule and keep that answer if it
            stands on the passages (:mod:`pipelines.rag.second_look`; needs ``check_support``). None:
            ``SIFT_SECOND_LOOK``, on by default.
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
        system_prompt: str | None = None,
        answer_length: str = DEFAULT_ANSWER_LENGTH,
        passage_tokens: int | None = DEFAULT_PASSAGE_TOKENS,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        locate: Callable[[Passage], Location | None] | None = None,
        check_support: bool = True,
        align_citations: bool = True,
        second_look: bool | None = None,
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
        self.answer_length = check_length(answer_length)
        if passage_tokens is not None and passage_tokens < 1:
            raise ConfigError(f"passage_tokens must be at least 1 (or None for no cap), got {passage_tokens}")
        self.passage_tokens = passage_tokens
        self.embed = embed
        self.locate = locate
        self.check_support = check_support
        self.align_citations = align_citations
        self.second_look = check_support and (second_look_enabled() if second_look is None else second_look)

    def warm_up(self) -> None:
        """Load the generator now."""
        self.generator.warm_up()

    def retrieve(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None, source: str | None = None,
    ) -> Evidence:
        """Passages' chunks in the pipeline's mode, plus the best dense cosine for the evidence gate (one search)."""
        if not question.strip():
            raise ConfigError("the question is empty: type a question to ask")
        hits, best = self.retriever.search_with_gate(question, k=k or self.k, mode=self.mode, where=where,
                                                     source=source)
        return Evidence(hits, None if best is None else float(best), question,
                        tuple(self.retriever.absent_words(question)))

    def ask(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None,
        config: GenerationConfig | None = None, history: Sequence[Turn] = (), query: str | None = None,
    ) -> Answer:
        """Answer in one call: :meth:`events` drained, so it is exactly what a stream of them ends with.

        Args:
            question: the question as the user typed it (what the model is asked).
            history: earlier turns of the conversation, oldest first; the most recent ones that fit the
                history budget go into the prompt.
            query: the text to retrieve with, when it differs from ``question`` (a follow-up rewritten
                to stand alone); default ``question``.
        """
        evidence = self.retrieve(query or question, k=k, where=where)
        return final_answer(self.events(question, evidence, config=config, history=history))

    def stream(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None,
        config: GenerationConfig | None = None, history: Sequence[Turn] = (), query: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's checked text pieces, then the :class:`Answer` (args as :meth:`ask`).

        The pieces add up to ``Answer.text``.
        """
        evidence = self.retrieve(query or question, k=k, where=where)
        return pieces(self.events(question, evidence, config=config, history=history))

    def build_prompt(
        self, question: str, evidence: Evidence, config: GenerationConfig | None = None, history: Sequence[Turn] = ()
    ) -> BuiltPrompt:
        """The prompt the model would get for ``question`` and ``evidence`` (passages numbered and packed)."""
        config = config or self.config
        return build_prompt(question, evidence.hits, self.generator, answer_tokens=config.max_new_tokens,
                            system=self.system_for(question), history=history, passage_tokens=self.passage_tokens)

    def length_for(self, question: str) -> str | None:
        """``"brief"`` or ``"explain"``: the rules ``question`` gets; None under a custom system prompt."""
        return None if self.system_prompt is not None else choose_length(question, self.answer_length)

    def system_for(self, question: str) -> str:
        """The system message for ``question``: the one given, else the brief or explaining rules."""
        length = self.length_for(question)
        if length is None:
            assert self.system_prompt is not None
            return self.system_prompt
        return EXPLAIN_SYSTEM_PROMPT if length == "explain" else SYSTEM_PROMPT

    def answer(
        self, question: str, evidence: Evidence, *, config: GenerationConfig | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer from already retrieved evidence (non-streaming)."""
        return final_answer(self.events(question, evidence, config=config, history=history))

    def events(
        self, question: str, evidence: Evidence, *, config: GenerationConfig | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[AskEvent]:
        """The answer as events: :class:`Retrieved`, then :class:`Token` pieces, then :class:`Done`.

        The tokens are the checked answer (:class:`~pipelines.rag.checked_text.CheckedText`): joined, they
        are ``Done.answer.text``. Closing the iterator early (a client left, a Stop button) cancels the
        generation within a token or two and frees the generator. A refusal the model writes is held back
        (:class:`Held` events instead of tokens) while it is asked once more without the refusal rule; the
        second answer is streamed in its place when it stands on the passages, else the refusal is
        (:mod:`pipelines.rag.second_look`).
        """
        config = config or self.config
        yield Retrieved(evidence.query or question, evidence.hits, evidence.best_dense)
        refused = self._refuse(question, evidence)
        if refused is not None:
            yield Token(refused.text)
            yield Done(refused)
            return
        built = self.build_prompt(question, evidence, config, history)
        checked = self._checker(question, evidence, built)
        again = self._second_system(question, evidence)
        held: list[str] = []  # a refusal, kept back while a second look may still replace it
        shown = False  # some text has left: too late for a second look
        stream = self.generator.stream(built.prompt, config)
        with contextlib.closing(stream):
            for piece in stream:
                text = checked.feed(piece)
                if again is not None and not shown and checked.refused:
                    held.append(text)
                    yield Held()
                elif text:
                    shown = True
                    yield Token(text)
        text = checked.flush()
        if again is not None and not shown and checked.refused and not checked.ungrounded:
            built2, result2, checked2 = yield from self._look_again(question, evidence, config, history, again)
            metrics = combined(stream.result.metrics, result2.metrics)
            if accepted(checked2, result2.text):
                if checked2.text:
                    yield Token(checked2.text)
                answer = self._finish(question, evidence, built2, result2, checked2)
                yield Done(dataclasses.replace(answer, metrics=metrics, second_look="kept"))
                return
            text = "".join(held) + text
            if text:
                yield Token(text)
            answer = self._finish(question, evidence, built, stream.result, checked)
            yield Done(dataclasses.replace(answer, metrics=metrics, second_look="refused"))
            return
        text = "".join(held) + text
        if text:
            yield Token(text)
        yield Done(self._finish(question, evidence, built, stream.result, checked))

    def _checker(self, question: str, evidence: Evidence, built: BuiltPrompt) -> CheckedText:
        """The sentence-by-sentence checks for one generation over ``built``'s passages."""
        return CheckedText(built.passages, self.embed, check=self.check_support, align=self.align_citations,
                           question=question, absent=evidence.absent)

    def _second_system(self, question: str, evidence: Evidence) -> str | None:
        """The system message a refusal of ``question`` is asked again with, or None when it gets no second look:
        turned off, a custom system message without the refusal rule, or a question naming something no
        indexed document holds (the passages are about something else)."""
        if not self.second_look or evidence.absent:
            return None
        return without_refusal_rule(self.system_for(question))

    def _look_again(
        self, question: str, evidence: Evidence, config: GenerationConfig, history: Sequence[Turn], system: str,
    ) -> collections.abc.Generator[Held, None, tuple[BuiltPrompt, GenerationResult, CheckedText]]:
        """Ask again under ``system`` (the rules without the refusal rule), the answer begun with
        :data:`~pipelines.rag.second_look.OPENING`, checking as it goes; nothing is shown yet, so a :class:`Held`
        is yielded per piece (a client that left still stops it). The result's text includes the opening."""
        built = build_prompt(question, evidence.hits, self.generator, answer_tokens=config.max_new_tokens,
                             system=system, history=history, passage_tokens=self.passage_tokens)
        checked = self._checker(question, evidence, built)
        checked.feed(OPENING)
        stream = self.generator.stream(built.prompt + OPENING, config)
        with contextlib.closing(stream):
            for piece in stream:
                checked.feed(piece)
                yield Held()
        checked.flush()
        result = dataclasses.replace(stream.result, text=OPENING + stream.result.text)
        return built, result, checked

    def gate(self, question: str, evidence: Evidence) -> Answer | None:
        """The refusal the evidence gate gives ``question`` before any model call, or None to go on."""
        return self._refuse(question, evidence)

    def _refuse(self, question: str, evidence: Evidence) -> Answer | None:
        texts = [h.text for h in evidence.hits]
        asked = evidence.query or question
        reason = "no_hits" if not evidence.hits else self.refusal.gate(evidence.best_dense, asked, texts)
        if reason is None:
            return None
        return Answer(question, REFUSAL_TEXT, REFUSAL_TEXT, [], [], True, reason, evidence.best_dense,
                      hits=evidence.hits, finish_reason="refused", query=asked, absent=evidence.absent)

    def _finish(
        self, question: str, evidence: Evidence, built: BuiltPrompt, result: GenerationResult, checked: CheckedText,
    ) -> Answer:
        text = checked.text
        citations = resolve_citations(text, built.passages, locate=self.locate).citations
        refused = checked.refused or is_refusal_text(text)
        reason = ("ungrounded" if checked.ungrounded else "model") if refused else None
        return Answer(
            question, text, result.text, citations, built.passages, refused, reason,
            evidence.best_dense, checked.invalid_citations, built.report, result.metrics, evidence.hits,
            None if refused else checked.report(), checked.moved, self.length_for(question),
            result.finish_reason, evidence.query or question, evidence.absent,
        )


def final_answer(events: Iterable[AskEvent]) -> Answer:
    """The :class:`Answer` a stream of events ends with (the stream is read to the end).

    Raises:
        RuntimeError: the stream ended without one (it was cut short).
    """
    done = [event.answer for event in events if isinstance(event, Done)]
    if not done:
        raise RuntimeError("the answer stream ended before its answer")
    return done[-1]


def pieces(events: Iterator[AskEvent]) -> Iterator[str | Answer]:
    """The text pieces of an event stream, then its :class:`Answer` (the pre-event form some callers read)."""
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, Token):
                yield event.text
            elif isinstance(event, Done):
                yield event.answer
