"""Retrieval evaluation sets: any BEIR folder, the wiki known-item task from the default corpus, and a question
file (the JSONL ``sift eval rag`` reads) scored against an existing index."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import ConfigError, DatasetError
from pipelines.rag.datasets import EvalItem, load_jsonl

DOC_KEYS = ("title", "source", "doc_id")


@dataclass
class RetrievalSet:
    """Queries with graded relevance over corpus document keys.

    Attributes:
        queries: query id → text.
        qrels: query id → {doc key → grade}.
        corpus: doc key → (title, text); None when the corpus is the packaged wiki corpus or an existing index.
        doc_key: without a corpus, what a doc key of ``qrels`` is in the index: a document's ``"title"``,
            its ``"source"`` path or its ``"doc_id"``.
    """

    name: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    corpus: dict[str, tuple[str, str]] | None = None
    doc_key: str = "title"

    def __post_init__(self) -> None:
        if self.doc_key not in DOC_KEYS:
            raise ConfigError(f"RetrievalSet.doc_key must be one of {', '.join(DOC_KEYS)}, got {self.doc_key!r}")


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise DatasetError(f"BEIR folder is missing {path.name} (expected {path})")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
    return rows


def load_beir(folder: Path, split: str = "test") -> RetrievalSet:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` of a BEIR dataset.

    Raises:
        DatasetError: a file is missing or malformed.
    """
    folder = Path(folder)
    corpus = {
        str(r["_id"]): (r.get("title", "") or "", r.get("text", "") or "") for r in _read_jsonl(folder / "corpus.jsonl")
    }
    queries = {str(r["_id"]): r["text"] for r in _read_jsonl(folder / "queries.jsonl")}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        raise DatasetError(f"BEIR folder is missing qrels/{split}.tsv (expected {qrels_path})")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] in ("query-id", "query_id"):
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {q: t for q, t in queries.items() if q in qrels}
    return RetrievalSet(folder.name, queries, qrels, corpus)


def wiki_known_item(summaries: Path, n: int = 1000, seed: int = 0) -> RetrievalSet:
    """Known-item search over the wiki corpus: query = a description held by exactly one article.

    The description is never part of the indexed text (the wiki loader keeps it as metadata), so the
    task is to find an article from a short paraphrase of what it is, e.g. "Art movement".

    Args:
        summaries: ``summaries_en-us.json``.
        n: queries to sample (all unique descriptions if fewer).
        seed: sampling seed (fixed → same queries every run).
    """
    data = json.loads(Path(summaries).read_text(encoding="utf-8"))
    items = [(v["title"], (v.get("description") or "").strip()) for v in data.values() if v.get("extract")]
    counts = Counter(desc.lower() for _, desc in items if desc)
    unique = sorted((title, desc) for title, desc in items if desc and counts[desc.lower()] == 1)
    random.Random(seed).shuffle(unique)
    picked = unique[:n]
    queries = {f"q{i}": desc for i, (_, desc) in enumerate(picked)}
    qrels = {f"q{i}": {title: 1} for i, (title, _) in enumerate(picked)}
    return RetrievalSet("wiki-known-item", queries, qrels, None)


def wiki_by_name(summaries: Path, n: int = 1000, seed: int = 0) -> RetrievalSet:
    """Known-item search by name: query = an article's title, relevant = that article.

    The counterpart of :func:`wiki_known_item`: a user who knows what a document is called. Every
    index feature that helps description queries must not cost much here.
    """
    data = json.loads(Path(summaries).read_text(encoding="utf-8"))
    titles = sorted({v["title"] for v in data.values() if v.get("extract") and v.get("title")})
    random.Random(seed).shuffle(titles)
    picked = titles[:n]
    return RetrievalSet(
        "wiki-by-name", {f"q{i}": t for i, t in enumerate(picked)}, {f"q{i}": {t: 1} for i, t in enumerate(picked)}
    )


def questions_set(items: Sequence[EvalItem], name: str) -> RetrievalSet:
    """The answerable questions of a RAG evaluation set as a retrieval task on an existing index: the relevant
    document of a question is its gold document id when every answerable question names one (a generated set
    does), else its gold ``source`` path when every one names one, else its ``title`` (unanswerable questions
    and those without any are left out). Ids come first because a source may hold many documents: keyed by the
    wiki's one JSON file, every hit would be gold.

    Raises:
        DatasetError: no answerable question names a gold document.

    Example:
        >>> s = questions_set([EvalItem("Who?", ("Ann",), ("/docs/a.md",)), EvalItem("Why?", ())], "mine")
        >>> s.queries, s.qrels, s.doc_key
        ({'q0': 'Who?'}, {'q0': {'/docs/a.md': 1}}, 'source')
    """
    judged = [(i, item) for i, item in enumerate(items) if item.answerable and has_gold(item)]
    if not judged:
        raise DatasetError(f"{name}: no answerable question names its gold document (a \"source\" or \"title\")")
    key = ("doc_id" if all(item.gold_doc_ids for _, item in judged)
           else "source" if all(item.gold_sources for _, item in judged) else "title")
    queries = {f"q{i}": item.question for i, item in judged}
    qrels = {f"q{i}": dict.fromkeys(_gold_keys(item, key), 1) for i, item in judged}
    return RetrievalSet(name, queries, qrels, None, key)


def has_gold(item: EvalItem) -> bool:
    """Whether ``item`` names a gold document (by id, source or title)."""
    return bool(item.gold_doc_ids or item.gold_sources or item.gold_titles)


def _gold_keys(item: EvalItem, key: str) -> list[str]:
    if key == "doc_id":
        return list(item.gold_doc_ids)
    if key == "source":
        return [str(Path(g).expanduser().resolve()) for g in item.gold_sources]
    return list(item.gold_titles)


def questions_jsonl(path: Path) -> RetrievalSet:
    """:func:`questions_set` of a question file (``{"question", "answers", "title", "source"}`` lines).

    Raises:
        DatasetError: the file is missing or malformed, or names no gold document.
    """
    return questions_set(load_jsonl(Path(path)), Path(path).name)
