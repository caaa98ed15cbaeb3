"""A generated evaluation set on disk: one JSON line per kept question, the format ``sift eval rag --jsonl`` reads.

An answerable line names its gold document (``title``, ``source``) and the chunk the question was written from;
an unanswerable one has ``"answers": []`` and keeps the answer the model expected, for a reader to judge::

    {"question": "When did Apollo 11 land on the Moon?", "answers": ["20 July 1969"], "title": "Apollo 11",
     "source": "/docs/apollo.md", "kind": "answerable", "doc_id": "…", "chunk_id": 3, "start": 0, "end": 181}
    {"question": "Who painted the bridge red?", "answers": [], "kind": "unanswerable", "doc_id": "…",
     "chunk_id": 7, "proposed_answer": "Irving Morrow"}

The file is written as questions are kept (each line flushed and synced), so a run that stops keeps what it
had; a run with the same file reads it back and writes only the questions still missing.

Example:
    >>> rows = read_set(Path("my-questions.jsonl"))          # doctest: +SKIP
    >>> sum(row["kind"] == "unanswerable" for row in rows)    # doctest: +SKIP
    5
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from indexing.errors import ConfigError
from pipelines.rag.datasets import jsonl_rows, load_jsonl, portable_path

Kind = Literal["answerable", "unanswerable"]


@dataclass(frozen=True)
class Candidate:
    """The chunk a question is written from (the fields of a stored chunk that the set records)."""

    chunk_id: int
    doc_id: str
    title: str
    source: str
    text: str
    start: int
    end: int


def answerable_row(question: str, answer: str, chunk: Candidate) -> dict[str, Any]:
    """The line of a kept answerable question: ``answer`` as the chunk spells it, the chunk's document as gold.

    Paths inside the working folder are written relative to it (:func:`~pipelines.rag.datasets.portable_path`),
    so a set saved in a project names none of this machine's folders; the readers resolve them against the
    folder they run in.
    """
    return {"question": question, "answers": [answer], "title": chunk.title, "source": portable_path(chunk.source),
            "kind": "answerable", "doc_id": portable_path(chunk.doc_id), "chunk_id": chunk.chunk_id,
            "start": chunk.start, "end": chunk.end}


def unanswerable_row(question: str, proposed: str, chunk: Candidate) -> dict[str, Any]:
    """The line of a kept unanswerable question; ``chunk`` is the one that suggested its subject."""
    return {"question": question, "answers": [], "kind": "unanswerable", "doc_id": portable_path(chunk.doc_id),
            "chunk_id": chunk.chunk_id, "proposed_answer": proposed}


def kind_of(row: dict[str, Any]) -> Kind:
    """A line's kind: its ``kind`` field, else answerable when it has answers (a line a user wrote by hand)."""
    kind = row.get("kind")
    if kind in ("answerable", "unanswerable"):
        return kind  # type: ignore[return-value]
    return "answerable" if row.get("answers") else "unanswerable"


def check_save_path(path: Path) -> None:
    """Refuse a ``--save`` file that cannot be appended to, before any model loads.

    Raises:
        ConfigError: ``path`` is a folder, its folder does not exist, or it cannot be opened for writing.
    """
    if path.is_dir():
        raise ConfigError(f"--save {path} is a folder: give a file name, e.g. {path / 'questions.jsonl'}")
    if not path.parent.is_dir():
        raise ConfigError(f"--save {path}: the folder {path.parent} does not exist; create it or choose another")
    existed = path.exists()
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigError(f"--save {path} cannot be written ({exc.strerror}): choose another file") from exc
    if not existed:
        path.unlink()  # only checked: the file appears with its first question


def read_set(path: Path) -> list[dict[str, Any]]:
    """The lines of a set file; ``[]`` when it does not exist or is empty.

    Raises:
        DatasetError: a line is not JSON or lacks ``question`` / ``answers`` (as ``sift eval rag`` would refuse it).
    """
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return []
    load_jsonl(path)  # the readers' own validation: a file they refuse is refused here too
    return [row for _, row in jsonl_rows(path, "question")]


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one line and make it durable (flushed and synced): a run killed later keeps it."""
    needs_newline = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(("\n" if needs_newline else "") + json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def resume_position(order: Sequence[int], rows: Sequence[dict[str, Any]], kind: Kind) -> int:
    """Where to go on in ``order`` (chunk ids, in the order candidates of ``kind`` are tried): after the last
    chunk a kept question of that kind came from, since every chunk before it was tried by the earlier run.

    Example:
        >>> rows = [{"kind": "answerable", "chunk_id": 7, "answers": ["x"]}, {"kind": "unanswerable", "chunk_id": 9}]
        >>> resume_position([4, 7, 9, 2], rows, "answerable"), resume_position([4, 7, 9, 2], rows, "unanswerable")
        (2, 3)
        >>> resume_position([4, 7], [], "answerable")
        0
    """
    where = {chunk_id: i for i, chunk_id in enumerate(order)}
    used = [where[row["chunk_id"]] for row in rows if kind_of(row) == kind and row.get("chunk_id") in where]
    return max(used) + 1 if used else 0
