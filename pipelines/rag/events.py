"""The events of one answer, the contract every front end streams: passages found, text, the final answer.

:meth:`pipelines.rag.answer.RAGPipeline.events` (and ``Workspace.converse`` over it) yields one
:class:`Retrieved`, then :class:`Token` pieces, then one :class:`Done` (with :class:`Held` between them while
a refusal is held back for a second look). The tokens joined are exactly
``Done.answer.text``: the CLI prints them, the Ask page writes them, REST sends them as ``token`` events and
the OpenAI routes as ``delta.content``, and each ends with the same answer.

Example:
    >>> events = [Token("Paris "), Token("[1].")]
    >>> "".join(e.text for e in events if isinstance(e, Token))
    'Paris [1].'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from indexing.datatypes import Hit

if TYPE_CHECKING:
    from pipelines.rag.answer import Answer


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found, before the model is asked.

    Attributes:
        query: the text searched (the question, or a follow-up's standalone rewrite).
        hits: the chunks passages are built from, best first.
        best_dense: cosine of the best dense hit (None: nothing found).
    """

    query: str
    hits: list[Hit] = field(repr=False)
    best_dense: float | None


@dataclass(frozen=True)
class Token:
    """A piece of the checked answer text."""

    text: str


@dataclass(frozen=True)
class Held:
    """The model is writing text that is held back: a refusal that a second look may replace
    (:mod:`pipelines.rag.second_look`). It carries nothing to show; front ends skip it. It comes once per
    generated piece, so a front end that looks for a departed client between events still stops the work."""


@dataclass(frozen=True)
class Done:
    """The final answer: citations, support, ``finish_reason`` and ``usage``."""

    answer: Answer


AskEvent = Union[Retrieved, Token, Held, Done]  # noqa: UP007 (a runtime alias: isinstance checks use the classes)
