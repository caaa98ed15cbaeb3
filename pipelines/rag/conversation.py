"""Conversations: answer a thread of questions, each follow-up retrieved with a standalone rewrite of it.

The pipeline retrieves with the rewrite (``query=``) and still asks the model the question as typed,
with the earlier turns as chat history (``history=``). The rewriters live in :mod:`pipelines.rag.rewrite`
and are re-exported here.

Example:
    >>> chat = Conversation(workspace.rag(), HeuristicRewriter())   # doctest: +SKIP
    >>> chat.ask("Who painted the Water Lilies?").text              # doctest: +SKIP
    'Claude Monet painted them [1].'
    >>> _ = chat.ask("When did he die?"); chat.last_query           # doctest: +SKIP
    'When did Claude Monet die?'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from indexing.errors import ConfigError
from pipelines.generation.base import GenerationConfig
from pipelines.rag.answer import Answer, RAGPipeline, final_answer, pieces
from pipelines.rag.citations import resolve_citations
from pipelines.rag.events import AskEvent, Done
from pipelines.rag.prompt import Turn
from pipelines.rag.refusal import is_refusal_text
from pipelines.rag.rewrite import (
    REWRITE_MODES,
    Exchange,
    GeneratorRewriter,
    HeuristicRewriter,
    NoRewriter,
    RewriteMode,
    Rewriter,
    make_rewriter,
)

__all__ = [
    "REWRITE_MODES",
    "Conversation",
    "Exchange",
    "GeneratorRewriter",
    "HeuristicRewriter",
    "NoRewriter",
    "RewriteMode",
    "Rewriter",
    "make_rewriter",
]


class Conversation:
    """A thread of questions over one RAG pipeline: rewrite each follow-up, answer with history, record the turn.

    Args:
        rag: the pipeline that answers (its ``history=`` and ``query=`` options carry the thread).
        rewriter: makes follow-ups stand alone (default :class:`HeuristicRewriter`).
        exchanges: the turns so far, oldest first; the list is kept and appended to (a UI session's state).

    Example:
        >>> chat = Conversation(workspace.rag())                                # doctest: +SKIP
        >>> [piece for piece in chat.stream("Who painted the Water Lilies?")]  # doctest: +SKIP
        >>> chat.exchanges[-1].titles[0]                                       # doctest: +SKIP
        'Water Lilies (Monet series)'
    """

    def __init__(self, rag: RAGPipeline, rewriter: Rewriter | None = None,
                 exchanges: list[Exchange] | None = None) -> None:
        self.rag = rag
        self.rewriter = rewriter if rewriter is not None else HeuristicRewriter()
        self.exchanges: list[Exchange] = exchanges if exchanges is not None else []
        self.last_query: str | None = None

    def reset(self) -> None:
        """Forget the thread (the next question starts a new conversation)."""
        self.exchanges.clear()
        self.last_query = None

    def history(self) -> list[Turn]:
        """Earlier answered turns as the prompt carries them (refusals add nothing and are left out)."""
        return [Turn(e.question, e.answer) for e in self.exchanges if e.answer]

    def standalone(self, question: str) -> str:
        """The question retrieval will search with; sets :attr:`last_query`."""
        if not question.strip():
            raise ConfigError("the question is empty: type a question to ask")
        query = self.rewriter.rewrite(question, self.exchanges).strip() or question
        self.last_query = query
        return query

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer ``question`` in the thread: :meth:`events` drained (options as there)."""
        return final_answer(self.events(question, **options))

    def stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        """Rewrite and retrieve now (:attr:`last_query` is set on return), then yield text pieces and the Answer."""
        events = self.events(question, **options)
        return pieces(events)

    def events(
        self, question: str, *, k: int | None = None, where: dict[str, str] | None = None,
        source: str | None = None, config: GenerationConfig | None = None,
    ) -> Iterator[AskEvent]:
        """Rewrite and retrieve now (so a bad filter fails before anything streams), then the answer's events.

        The turn is recorded in :attr:`exchanges` when the :class:`Done` event is read; a stream closed
        before it (a client left) records nothing.
        """
        query = self.standalone(question)
        evidence = self.rag.retrieve(query, k=k, where=where, source=source)
        events = self.rag.events(question, evidence, config=config, history=self.history())
        return self._record(question, query, events)

    def restore(
        self, turns: Sequence[tuple[str, str]], *, where: dict[str, str] | None = None, source: str | None = None,
    ) -> None:
        """Rebuild the thread from earlier (question, answer) pairs, as a client that keeps the history sends it.

        Each earlier question is rewritten and retrieved again as it was then, and its answer's ``[n]``
        citations are read against the passages it was given, so the turn carries the same cited titles as
        one answered in this process: a follow-up then retrieves the same way through every front end. The
        model is not asked (a "generator" rewriter is).

        Example:
            >>> chat.restore([("Who painted the Water Lilies?", "Claude Monet painted them [1].")])  # doctest: +SKIP
            >>> chat.exchanges[0].titles                                                        # doctest: +SKIP
            ('Water Lilies (Monet series)',)
        """
        for question, answer in turns:
            query = self.standalone(question)
            evidence = self.rag.retrieve(query, where=where, source=source)
            if self.rag.gate(question, evidence) is not None:  # refused before the model: no passages
                self.exchanges.append(Exchange(question, query))
                continue
            passages = self.rag.build_prompt(question, evidence, history=self.history()).passages
            cited = [c.title for c in resolve_citations(answer, passages).citations] or [p.title for p in passages]
            said = "" if is_refusal_text(answer) else answer
            self.exchanges.append(Exchange(question, query, said, tuple(dict.fromkeys(cited))))

    def _record(self, question: str, query: str, events: Iterator[AskEvent]) -> Iterator[AskEvent]:
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Done):
                    self.exchanges.append(Exchange.from_answer(question, query, event.answer))
                yield event
