"""What a sync did (or, with --dry-run, would do), file by file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from indexing.datatypes import Document
from indexing.store.records import FILE_STATUSES, READABLE_STATUSES, FileStatus, FileStatusName, check_status

# Statuses of files a loader was asked to read and could not: the report's "skipped".
SKIPPED_STATUSES: frozenset[str] = frozenset({"empty", "encrypted", "failed"})


@dataclass(frozen=True)
class FileEntry:
    """What became of one file in a sync.

    Attributes:
        path: the file's absolute path (a symlink's own path when it leads nowhere).
        status: one of :data:`~indexing.store.records.FILE_STATUSES`; an unchanged file keeps its last one.
        reason: why it is not ``parsed``, naming the file (``""`` when parsed).
        documents: documents the index holds (or, in a dry run, would hold) from the file after the sync.
        chunks: chunks of the file embedded by this sync (0 when unchanged, skipped or in a dry run).

    Example:
        >>> FileEntry("/docs/a.md", "parsed", "", 1, 3).problem
        False
    """

    path: str
    status: FileStatusName
    reason: str = ""
    documents: int = 0
    chunks: int = 0

    def __post_init__(self) -> None:
        check_status(self.status)

    @property
    def problem(self) -> bool:
        """True unless the file's text was read (``parsed`` or ``ocr``)."""
        return self.status not in READABLE_STATUSES

    @classmethod
    def read(cls, path: str, shown: str, docs: Sequence[Document]) -> FileEntry:
        """The entry of a file read into ``docs``: ``ocr`` when a loader recognized any of its text by OCR.

        ``shown`` is the file as the reason names it; a PDF's ``meta["ocr_pages"]`` counts its OCR'd pages.

        Example:
            A scanned PDF whose document has ``meta == {"ocr": "tesseract", "ocr_pages": 2}`` →
            ``FileEntry(path, "ocr", "scan.pdf: text recognized by OCR (tesseract, 2 pages)", 1)``.
        """
        ocr = [d.meta for d in docs if d.meta.get("ocr")]
        if not ocr:
            return cls(path, "parsed", "", len(docs))
        pages = sum(int(m.get("ocr_pages") or 0) for m in ocr)
        where = f", {pages} page{'s' if pages != 1 else ''}" if pages else ""
        return cls(path, "ocr", f"{shown}: text recognized by OCR ({ocr[0]['ocr']}{where})", len(docs))

    @classmethod
    def kept(cls, path: str, last: FileStatus | None, documents: int) -> FileEntry:
        """The entry of an unchanged indexed file: its last status, or ``parsed`` where none was recorded
        (an index older than statuses) or the last was a failure of a version since reverted."""
        if last is not None and not last.problem:
            return cls(path, last.status, last.reason, documents)
        return cls(path, "parsed", "", documents)

    def differs_from(self, last: FileStatus | None) -> bool:
        """Whether this entry must be recorded: no status yet, or another one than ``last``."""
        return last is None or (last.status, last.reason, last.documents) != (self.status, self.reason, self.documents)


@dataclass
class SyncReport:
    """Counts are documents, except ``skipped`` and ``unsupported``, which are files.

    Attributes:
        added / updated / removed / unchanged: document ids in each state.
        files: one :class:`FileEntry` per file considered, in walk order.
        files_seen: files considered under the given paths.
        chunks_embedded: chunks that went through the embedding model.
        leads_embedded: lead sentences embedded for lead vectors (:mod:`indexing.lead`).
        dry_run: nothing was written.
        seconds: wall time.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    files_seen: int = 0
    chunks_embedded: int = 0
    leads_embedded: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """True when the index differs (or would differ) after this sync."""
        return bool(self.added or self.updated or self.removed)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of files a loader could not read (empty, encrypted, failed); anything indexed before
        from them is kept."""
        return [(f.path, f.reason) for f in self.files if f.status in SKIPPED_STATUSES]

    @property
    def unsupported(self) -> list[tuple[str, str]]:
        """(path, reason) of files no loader reads."""
        return [(f.path, f.reason) for f in self.files if f.status == "unsupported"]

    def status_counts(self) -> dict[str, int]:
        """Files per status, every status present, e.g. ``{"parsed": 3, "ocr": 0, ..., "failed": 1}``."""
        counts = dict.fromkeys(FILE_STATUSES, 0)
        for entry in self.files:
            counts[entry.status] += 1
        return counts

    def summary(self) -> str:
        """One line, e.g.
        ``added 3, updated 1, removed 0, unchanged 10, skipped 1, unsupported 2 (16 files, 42 chunks embedded, 1.2 s)``.
        """
        verb = "would add" if self.dry_run else "added"
        leads = f" and {self.leads_embedded} leads" if self.leads_embedded else ""
        return (
            f"{verb} {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)}, unsupported {len(self.unsupported)} "
            f"({self.files_seen} files, {self.chunks_embedded} chunks{leads} embedded, {self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the lists, ``files`` (one object per file), ``counts``, ``statuses`` (files per status)."""
        data = asdict(self)
        data["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        data["counts"] = {k: len(getattr(self, k)) for k in ("added", "updated", "removed", "unchanged", "skipped")}
        data["counts"]["unsupported"] = len(self.unsupported)
        data["statuses"] = self.status_counts()
        return data
