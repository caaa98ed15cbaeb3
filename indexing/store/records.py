"""Rows read back from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with its document's identity.

    ``meta`` is the document's metadata overlaid with the chunk's own (chunk keys win).
    """

    id: int
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    source: str
    title: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document. ``text`` is empty unless asked for."""

    id: str
    source: str
    title: str
    hash: str
    n_chunks: int
    meta: dict[str, Any] = field(default_factory=dict)
    text: str = ""
