"""Loader for the Wikipedia summaries corpus (.json): one document per article."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, read_text, source_of

EXPECTED_SHAPE = (
    'a JSON object mapping each key to {"title": ..., "extract": ..., "description": ..., "topic": ...} '
    "(the Wikipedia summaries format)"
)


def _articles(path: Path, data: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict) or not data:
        raise fail(path, f"unexpected JSON layout; expected {EXPECTED_SHAPE}")
    for key, article in data.items():
        if not isinstance(article, dict) or not isinstance(article.get("extract"), str):
            raise fail(path, f"entry {key!r} has no text 'extract'; expected {EXPECTED_SHAPE}")
    return data


def load_wiki_json(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a Wikipedia summaries file: ``{key: {"title", "extract", "description", "topic"}}``.

    Articles with an empty extract are skipped. A missing title falls back to the key.

    Args:
        path: the .json file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        Documents in file order with ``id == f"{source}#{title}"``, ``text`` the extract and
        ``meta == {"topic": ..., "description": ...}`` (empty values left out).

    Raises:
        LoaderError: the file is not JSON, not of that layout, or has no non-empty extract.

    Example:
        ``{"Go": {"title": "Go", "extract": "Go is a game.", "description": "", "topic": "Games"}}``
        → ``[Document(id=".../wiki.json#Go", title="Go", text="Go is a game.", meta={"topic": "Games"})]``.
    """
    raw, _ = read_text(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise fail(path, f"not valid JSON; expected {EXPECTED_SHAPE}", exc) from exc
    source = source_of(path)
    documents = []
    for key, article in _articles(path, data).items():
        text = article["extract"].strip()
        if not text:
            continue
        title = str(article.get("title") or key).strip()
        meta = {
            name: str(article[name]).strip()
            for name in ("topic", "description")
            if article.get(name) and str(article[name]).strip()
        }
        documents.append(Document(id=f"{source}#{title}", source=source, title=title, text=text, meta=meta))
    if not documents:
        raise fail(path, "no article has a non-empty 'extract'", status="empty")
    return documents
