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

from collections.abc import Iterator
from typing import Any

from indexing.errors import ConfigError
from pipelines.rag.answer import Answer, RAGPipeline
from pipelines.rag.prompt import Turn
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
        """Answer ``question`` in the thread (options: ``k``, ``where``, ``config`` of :meth:`RAGPipeline.ask`)."""
        query = self.standalone(question)
        answer = self.rag.ask(question, history=self.history(), query=query, **_checked(options))
        self.exchanges.append(Exchange.from_answer(question, query, answer))
        return answer

    def stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        """Rewrite and retrieve now (:attr:`last_query` is set on return), then yield text pieces and the Answer."""
        query = self.standalone(question)
        items = self.rag.stream(question, history=self.history(), query=query, **_checked(options))
        return self._record(question, query, items)

    def _record(self, question: str, query: str, items: Iterator[str | Answer]) -> Iterator[str | Answer]:
        for item in items:
            if isinstance(item, Answer):
                self.exchanges.append(Exchange.from_answer(question, query, item))
            yield item


def _checked(options: dict[str, Any]) -> dict[str, Any]:
    taken = {"history", "query"} & set(options)
    if taken:
        raise ConfigError(f"a Conversation sets {', '.join(sorted(taken))} itself; pass only k, where, config")
    return options
