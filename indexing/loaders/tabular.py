"""CSV and JSONL loaders: one document per row, text and title taken from chosen columns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, read_text, source_of

TEXT_COLUMNS = ("text", "content", "body", "extract", "summary", "description")
TITLE_COLUMNS = ("title", "name")
ID_COLUMN = "id"
# Long articles in one CSV cell exceed the csv module's default 128 KiB field limit.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


def as_str(value: Any) -> str:
    """A cell value as text: strings as they are, ``None`` as ``""``, anything else as JSON.

    Example:
        >>> [as_str("a"), as_str(None), as_str(3), as_str(True), as_str({"k": 1})]
        ['a', '', '3', 'true', '{"k": 1}']
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def pick_column(columns: Sequence[str], wanted: str | None, usual: Iterable[str]) -> str | None:
    """The column to use: ``wanted`` if given, else the first usual name present (any case).

    Example:
        >>> pick_column(["ID", "Body"], None, ("text", "body"))
        'Body'
    """
    if wanted is not None:
        return wanted if wanted in columns else None
    folded = {column.casefold(): column for column in reversed(columns)}
    return next((folded[name] for name in usual if name in folded), None)


def _choose_columns(path: Path, columns: Sequence[str], options: LoadOptions) -> tuple[str, str | None]:
    seen = ", ".join(repr(column) for column in columns) or "none"
    text_column = pick_column(columns, options.text_column, TEXT_COLUMNS)
    if text_column is None:
        if options.text_column is not None:
            raise fail(path, f"no column {options.text_column!r}; columns seen: {seen}")
        raise fail(
            path,
            f"no text column (looked for {', '.join(TEXT_COLUMNS)}); columns seen: {seen}; "
            "pass --text-column NAME",
        )
    title_column = pick_column(columns, options.title_column, TITLE_COLUMNS)
    if title_column is None and options.title_column is not None:
        raise fail(path, f"no column {options.title_column!r}; columns seen: {seen}")
    return text_column, title_column


def _meta(row: Mapping[str, Any], skip: Iterable[str | None]) -> dict[str, str]:
    skipped = set(skip)
    meta = {}
    for column, value in row.items():
        value_text = as_str(value).strip()
        # An unnamed column (e.g. a spreadsheet's index) has no key worth keeping.
        if column and column not in skipped and value_text:
            meta[column] = value_text
    return meta


def rows_to_documents(
    path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], options: LoadOptions
) -> list[Document]:
    """Turn parsed rows into documents, skipping rows whose text is blank.

    Row ``n`` (1-based, counting skipped rows, so ids stay stable) gets id ``"{source}#row={n}"``,
    or ``"{source}#id={value}"`` when an ``id`` column holds a value not seen before.

    Example:
        Row 1 ``{"id": "7", "text": "hi", "lang": "en"}`` of ``t.csv`` →
        ``Document(id=".../t.csv#id=7", title="t row 1", text="hi", meta={"id": "7", "lang": "en"})``.
    """
    text_column, title_column = _choose_columns(path, columns, options)
    source = source_of(path)
    id_column = pick_column(columns, None, (ID_COLUMN,))
    used_ids: set[str] = set()
    documents = []
    for n, row in enumerate(rows, start=1):
        text = as_str(row.get(text_column)).strip()
        if not text:
            continue
        key = as_str(row.get(id_column)).strip() if id_column else ""
        doc_id = f"{source}#id={key}" if key and key not in used_ids else f"{source}#row={n}"
        used_ids.add(key)
        title = as_str(row.get(title_column)).strip() if title_column else ""
        meta = _meta(row, skip=(text_column, title_column))
        documents.append(
            Document(id=doc_id, source=source, title=title or f"{path.stem} row {n}", text=text, meta=meta)
        )
    if not documents:
        raise fail(path, f"no rows with text in column {text_column!r}", status="empty")
    return documents


def load_csv(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a CSV file with a header row, one document per row.

    Args:
        path: the .csv file.
        options: which columns hold text and title (see :class:`LoadOptions`).

    Returns:
        Documents in row order; columns other than text and title become ``meta`` (non-empty only).

    Raises:
        LoaderError: unreadable/undecodable file, malformed CSV, or no usable text column.

    Example:
        ``"title,text\\nA,hello\\n"`` → ``[Document(title="A", text="hello", …)]``.
    """
    text, _ = read_text(path)
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = [column.strip() for column in reader.fieldnames or []]
        reader.fieldnames = columns
        # Cells beyond the header land under the key None; they have no column name to keep.
        rows = [{k: v for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise fail(path, f"malformed CSV at line {reader.line_num}", exc) from exc
    return rows_to_documents(path, rows, columns, options or LoadOptions())


def load_jsonl(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a JSON Lines file (one JSON object per line), one document per object.

    Blank lines are skipped; columns are the keys of all objects in order of first appearance.

    Args:
        path: the .jsonl file.
        options: which keys hold text and title (see :class:`LoadOptions`).

    Returns:
        Documents in line order, built by the same rules as CSV rows.

    Raises:
        LoaderError: a line is not a JSON object (file and line number named), or no text key.

    Example:
        ``'{"text": "hello", "topic": "x"}\\n'`` → ``[Document(text="hello", meta={"topic": "x"}, …)]``.
    """
    text, _ = read_text(path)
    rows: list[dict[str, Any]] = []
    columns: dict[str, None] = {}  # an ordered set
    # Split on "\n" only: str.splitlines() would also break at U+2028 inside a JSON string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(path, f"line {number} is not valid JSON", exc) from exc
        if not isinstance(row, dict):
            raise fail(path, f"line {number} is a JSON {type(row).__name__}, expected an object")
        rows.append(row)
        columns.update(dict.fromkeys(row))
    return rows_to_documents(path, rows, list(columns), options or LoadOptions())
