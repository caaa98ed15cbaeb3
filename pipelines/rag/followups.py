"""Follow-up retrieval evaluation: does a follow-up find its gold document as typed, and once rewritten?

Each conversation is two turns: a first question that names its subject, and a follow-up that only
refers to it ("When did he die?"). The first turn is retrieved (not generated: the rewriters get its
question and the titles of the documents retrieved for it, best first, standing in for the ones an
answer would cite); the follow-up is then retrieved as typed and with each rewriter's standalone form.

Metrics: ``hit@1`` / ``hit@5``: the gold title is the title of the first / one of the first five
retrieved chunks (the five passages a ``k=5`` pipeline gives the model); ``first_turn_hit@5``: the
gold title among the chunks retrieved for the *first* question, the ceiling a rewrite that brings in
the subject can reach.

Example:
    >>> items = load_followups(Path("data/eval/followups_wiki.jsonl"))            # doctest: +SKIP
    >>> report = evaluate_followups(workspace, items, {"heuristic": HeuristicRewriter()})  # doctest: +SKIP
    >>> report.summary()["heuristic"]["hit@5"]                                     # doctest: +SKIP
    0.9
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.datatypes import Hit
from indexing.errors import DatasetError
from pipelines.rag.answer import Retriever
from pipelines.rag.datasets import jsonl_rows
from pipelines.rag.rewrite import Exchange, Rewriter

_FIELDS = {"first": str, "followup": str, "title": str, "answers": list}


@dataclass(frozen=True)
class FollowupItem:
    """One two-turn conversation.

    Attributes:
        first: the first question (names the subject).
        followup: the follow-up, answerable only with the first turn's context.
        title: title of the document that answers the follow-up.
        answers: acceptable answers to the follow-up (found in that document's text).
        form: how the follow-up refers back ("pronoun", "possessive", "ellipsis", "what-about"), if given.
    """

    first: str
    followup: str
    title: str
    answers: tuple[str, ...]
    form: str = ""


def load_followups(path: Path) -> list[FollowupItem]:
    """Read ``{"first", "followup", "title", "answers": [...]}`` lines (optional ``"form"``).

    Raises:
        DatasetError: the file is missing or empty, or a line is not JSON or lacks a field; the
            message names ``file:line``.
    """
    items = []
    for number, row in jsonl_rows(path, "follow-up"):
        bad = [k for k, kind in _FIELDS.items() if not isinstance(row, dict) or not isinstance(row.get(k), kind)]
        if bad or not all(str(row[k]).strip() for k in ("first", "followup", "title")) or not row["answers"]:
            raise DatasetError(
                f'{path}:{number} needs {{"first": str, "followup": str, "title": str, "answers": [str, ...]}}'
                + (f" (bad or missing: {', '.join(bad)})" if bad else " (empty field)")
            )
        items.append(FollowupItem(row["first"], row["followup"], row["title"], tuple(map(str, row["answers"])),
                                  str(row.get("form", ""))))
    if not items:
        raise DatasetError(f"follow-up file {path} has no conversations")
    return items


def title_rank(title: str, hits: Sequence[Hit]) -> int | None:
    """1-based rank of the first hit from the document titled ``title`` (case-insensitive), or None."""
    want = title.casefold()
    return next((i for i, hit in enumerate(hits, start=1) if hit.title.casefold() == want), None)


@dataclass
class FollowupReport:
    """Per-conversation queries and gold ranks, and their summary.

    Attributes:
        strategies: the names evaluated, ``"as_is"`` first.
        rows: one dict per conversation: the questions, each strategy's query and gold rank.
    """

    strategies: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """``{"conversations": n, "first_turn_hit@5": x, strategy: {"hit@1", "hit@5", "rewritten"}}``."""
        n = len(self.rows)
        out: dict[str, Any] = {"conversations": n}
        out["first_turn_hit@5"] = _share(r["first_rank"] for r in self.rows) if n else float("nan")
        for name in self.strategies:
            ranks = [r[name]["rank"] for r in self.rows]
            out[name] = {
                "hit@1": sum(r == 1 for r in ranks) / n if n else float("nan"),
                "hit@5": _share(ranks) if n else float("nan"),
                "rewritten": sum(r[name]["query"] != r["followup"] for r in self.rows),
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: summary and rows."""
        return {"summary": self.summary(), "rows": self.rows}


def _share(ranks: Any, k: int = 5) -> float:
    ranks = list(ranks)
    return sum(r is not None and r <= k for r in ranks) / len(ranks)


def evaluate_followups(
    retriever: Retriever, items: Sequence[FollowupItem], rewriters: Mapping[str, Rewriter], *, k: int = 5,
    mode: str = "hybrid", progress: Callable[[int, int], None] | None = None,
) -> FollowupReport:
    """Retrieve every follow-up as typed (``"as_is"``) and rewritten by each of ``rewriters``.

    Args:
        retriever: the index (a ``Workspace``).
        items: the conversations.
        rewriters: name → rewriter, e.g. ``{"heuristic": HeuristicRewriter()}``.
        k: chunks retrieved per query.
        mode: retrieval mode.
        progress: called with (done, total) after each conversation.
    """
    report = FollowupReport(["as_is", *rewriters])
    for done, item in enumerate(items, start=1):
        first_hits = retriever.search(item.first, k=k, mode=mode)
        titles = tuple(dict.fromkeys(h.title for h in first_hits))
        prior = Exchange(item.first, item.first, "", titles)
        row: dict[str, Any] = {"first": item.first, "followup": item.followup, "title": item.title,
                               "form": item.form, "first_rank": title_rank(item.title, first_hits)}
        for name in report.strategies:
            query = item.followup if name == "as_is" else rewriters[name].rewrite(item.followup, [prior])
            row[name] = {"query": query, "rank": title_rank(item.title, retriever.search(query, k=k, mode=mode))}
        report.rows.append(row)
        if progress is not None:
            progress(done, len(items))
    return report
