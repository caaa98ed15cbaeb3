"""Read rows from CSV or JSONL files, the input formats of ``sift classify --input`` and evaluation.

Example:
    >>> rows = read_rows(Path("reviews.csv"))      # doctest: +SKIP
    >>> column(rows, "text", Path("reviews.csv"))[:1]  # doctest: +SKIP
    ['A gripping, beautifully shot film.']
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError, DatasetError

TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}


def _read_csv(path: Path) -> list[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # Review and article texts can exceed csv's default 128 KiB field limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [dict(row) for row in csv.DictReader(handle, delimiter=delimiter)]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        rows = []
        for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may be in a string
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
    if not all(isinstance(row, dict) for row in rows):
        raise DatasetError(f"{path}: every row must be a JSON object")
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a CSV/TSV (header row required) or JSONL/JSON-array file.

    Raises:
        DatasetError: the file is missing, of another type, or malformed.
    """
    if not path.is_file():
        raise DatasetError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DatasetError(f"{path}: expected one of {', '.join(sorted(TABLE_SUFFIXES))}")
    try:
        rows = _read_csv(path) if suffix in {".csv", ".tsv"} else _read_jsonl(path)
    except (UnicodeDecodeError, csv.Error, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be parsed ({exc})") from exc
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def column(rows: list[dict[str, Any]], name: str, path: Path) -> list[str]:
    """The values of column ``name`` as strings (missing/None → ``""``).

    Raises:
        ConfigError: no row has that column; the message lists the columns there are.
    """
    if not any(name in row for row in rows):
        found = sorted({key for row in rows[:50] for key in row})
        raise ConfigError(f"{path}: no column {name!r}; columns: {', '.join(found)} (use --text-column)")
    return ["" if row.get(name) is None else str(row.get(name)) for row in rows]
