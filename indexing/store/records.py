"""Rows read back from the store, and the vocabulary of file statuses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from indexing.errors import ConfigError


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


FILE_STATUSES: tuple[str, ...] = ("parsed", "ocr", "empty", "encrypted", "unsupported", "failed")
"""What became of a file a sync considered, in that order of merit: ``parsed``; ``ocr`` (text recognized by
OCR); ``empty`` (no text in it); ``encrypted`` (password-protected); ``unsupported`` (no loader reads the file
type); ``failed`` (could not be read; the reason says why)."""
READABLE_STATUSES: frozenset[str] = frozenset({"parsed", "ocr"})
FileStatusName = Literal["parsed", "ocr", "empty", "encrypted", "unsupported", "failed"]


def check_status(status: str) -> FileStatusName:
    """``status`` if it is one of :data:`FILE_STATUSES`.

    Raises:
        ConfigError: any other string; the message lists the valid ones.

    Example:
        >>> check_status("ocr")
        'ocr'
    """
    if status not in FILE_STATUSES:
        raise ConfigError(f"file status {status!r} is not known: use one of {', '.join(FILE_STATUSES)}")
    return status  # type: ignore[return-value]


@dataclass(frozen=True)
class FileStatus:
    """The latest status of one file, as the index records it.

    Attributes:
        path: the file's absolute path (a symlink's own path when it cannot be followed).
        status: one of :data:`FILE_STATUSES`.
        reason: why the file is not ``parsed``, naming it (``""`` when parsed).
        documents: documents the index holds from the file (a file that turned unreadable keeps its old ones).
        updated_at: when this status was recorded (Unix seconds); a sync that finds the same status keeps it.

    Example:
        >>> FileStatus("/docs/a.gz", "unsupported", "/docs/a.gz: unsupported file type '.gz'", 0, 0.0).problem
        True
    """

    path: str
    status: FileStatusName
    reason: str
    documents: int
    updated_at: float

    def __post_init__(self) -> None:
        check_status(self.status)

    @property
    def problem(self) -> bool:
        """True unless the file's text was read (``parsed`` or ``ocr``)."""
        return self.status not in READABLE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
