"""Keep an index in sync with files: skip unchanged, re-embed changed, remove deleted, report every file's fate.

Change detection is by content hash, first per file (an unchanged file is not even parsed),
then per document (an edited CSV re-embeds only its changed rows). Every file considered gets a
status (:data:`~indexing.store.records.FILE_STATUSES`), recorded in the index with its documents.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from indexing.chunker import Chunker, ChunkerConfig
from indexing.embedder import Embedder
from indexing.errors import IndexMismatchError, LoaderError, SiftError, UnsupportedFileError
from indexing.faults import fault_point
from indexing.lead import lead_text
from indexing.loaders import LoadOptions, load_file
from indexing.loaders.files import FoundFile, scan_files
from indexing.manifest import Manifest
from indexing.report import FileEntry, SyncReport
from indexing.store import Store
from indexing.store.records import FileStatus
from indexing.types import Document

log = logging.getLogger(__name__)
TITLE_TOKENS = 32  # most title tokens put in front of each chunk for embedding
GROUP_CHUNKS = 20_000  # chunks embedded per write batch: progress is durable per group (SIFT_GROUP_CHUNKS)
Progress = Callable[[str, int, int], None]


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Pending:
    """A file whose documents must be (re)written."""

    path: str
    hash: str
    size: int
    docs: list[Document]
    remove: list[str]  # stale document ids of this file
    entry: FileEntry  # its status, recorded with its documents


class Syncer:
    """Indexes paths into a store.

    ``lead_vectors``: give each document's first chunk a lead vector (:mod:`indexing.lead`); None
    keeps an existing index's setting and turns them on for a new one. ``ocr`` and ``ocr_lang`` go to
    :func:`~indexing.loaders.load_file`: whether to recognize text in scanned pages and images, in
    which tesseract language(s) (e.g. ``"eng+deu"``).

    Example:
        >>> report = Syncer(Path("data/index"), Embedder()).sync([Path("docs")])   # doctest: +SKIP
        >>> report.summary()                                                     # doctest: +SKIP
        'added 12, updated 0, removed 0, unchanged 0, skipped 1, unsupported 0 (...)'
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        chunking: ChunkerConfig | None = None,
        text_column: str | None = None,
        title_column: str | None = None,
        lead_vectors: bool | None = None,
        ocr: bool = True,
        ocr_lang: str = "eng",
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.chunking = chunking or ChunkerConfig()
        self.text_column = text_column
        self.title_column = title_column
        self.lead_vectors = lead_vectors
        LoadOptions(text_column, title_column, ocr=ocr, ocr_lang=ocr_lang)  # refuses a bad option before any work
        self.ocr = ocr
        self.ocr_lang = ocr_lang

    def manifest(self) -> Manifest:
        """The manifest this syncer's settings produce."""
        return Manifest(
            embedding_model=self.embedder.name,
            dimension=self.embedder.dimension,
            chunk_size=self.chunking.chunk_size,
            chunk_overlap=self.chunking.chunk_overlap,
            lead_vectors=self.lead_vectors is not False,
        )

    def sync(self, paths: Sequence[Path], dry_run: bool = False, progress: Progress | None = None) -> SyncReport:
        """Bring the index in line with ``paths`` (files or folders).

        Files indexed earlier under one of ``paths`` that no longer exist are removed, with their
        status; files indexed from elsewhere are untouched. Unreadable files are skipped (and any
        version of them already indexed is kept); they are tried again on every sync, so a fix
        outside the file (OCR installed, a loader added) is picked up. Each file's status is written
        in the transaction that writes its documents; a dry run writes nothing. An existing index
        keeps its own lead-vector setting, so its documents are never embedded two ways.
        """
        started = time.perf_counter()
        self.chunking.validate(self.embedder.max_seq_length - 2 - TITLE_TOKENS - 1)
        # realpath, not resolve(): a root that is a symlink loop is "does not exist", not a RuntimeError
        roots = [Path(os.path.realpath(Path(p).expanduser())) for p in paths]
        for root in roots:
            if not root.exists():
                raise SiftError(f"path {root} does not exist: check the spelling, nothing was changed")
        store = Store.open(self.index_dir) if Store.exists(self.index_dir) else None
        if store is not None:
            store.manifest.check_compatible(self.manifest(), str(self.index_dir))
            self._check_leads(store.manifest)
        known = store.files() if store else {}
        last = {s.path: s for s in store.file_statuses()} if store else {}
        report = SyncReport(dry_run=dry_run)
        pending, seen = self._scan(roots, known, last, store, report)
        under = _under(roots)
        gone = sorted(f for f in known.keys() | last.keys() if f not in seen and under(f))
        for f in gone:
            report.removed.extend(store.document_hashes(f) if store else [])
        in_pending = {p.path for p in pending}
        statuses = [e for e in report.files if e.path not in in_pending and e.differs_from(last.get(e.path))]
        if not dry_run and (pending or gone or statuses):
            store = store or Store.create(self.index_dir, self.manifest())
            chunks = self._write(store, pending, gone, statuses, report, progress, store.manifest.lead_vectors)
            report.files = [replace(e, chunks=chunks[e.path]) if e.path in chunks else e for e in report.files]
        report.seconds = time.perf_counter() - started
        return report

    def _check_leads(self, stored: Manifest) -> None:
        if self.lead_vectors is not None and self.lead_vectors != stored.lead_vectors:
            have, asked = ("with", "without") if stored.lead_vectors else ("without", "with")
            raise IndexMismatchError(
                f"index {self.index_dir} was built {have} lead vectors but {asked} was asked for: "
                "drop --no-leads (lead_vectors= in Python) to keep the index's setting, or use a new --index directory"
            )

    def _scan(
        self, roots: list[Path], known: dict[str, str], last: dict[str, FileStatus], store: Store | None,
        report: SyncReport,
    ) -> tuple[list[_Pending], set[str]]:
        pending: list[_Pending] = []
        seen: set[str] = set()
        for found in scan_files(roots):
            source = found.key
            seen.add(source)
            report.files_seen += 1
            old_docs = store.document_hashes(source) if store and source in known else {}
            digest = _unreadable(found, source, len(old_docs))
            if isinstance(digest, str) and known.get(source) == digest:  # unchanged: not even parsed
                report.unchanged.extend(old_docs)
                report.files.append(FileEntry.kept(source, last.get(source), len(old_docs)))
                continue
            read = self._load(found, source, len(old_docs)) if isinstance(digest, str) else digest
            if isinstance(read, FileEntry):  # a folder full of pictures or archives is expected: no warning each
                log.log(logging.INFO if read.status == "unsupported" else logging.WARNING, "skipped %s", read.reason)
                report.files.append(read)
                continue
            docs = _dedupe(read)
            new_ids = {d.id for d in docs}
            for doc in docs:
                bucket = (
                    report.added
                    if doc.id not in old_docs
                    else (report.unchanged if old_docs[doc.id] == doc.hash else report.updated)
                )
                bucket.append(doc.id)
            stale = [d for d in old_docs if d not in new_ids]
            report.removed.extend(stale)
            todo = [d for d in docs if old_docs.get(d.id) != d.hash]
            entry = FileEntry.read(source, str(found.path), docs)
            report.files.append(entry)
            pending.append(_Pending(source, str(digest), found.path.stat().st_size, todo, stale, entry))
        return pending, seen

    def _load(self, found: FoundFile, source: str, held: int) -> list[Document] | FileEntry:
        """The file's documents, or its entry when the loader cannot read it (``held``: documents kept)."""
        try:
            return load_file(
                found.path, text_column=self.text_column, title_column=self.title_column,
                ocr=self.ocr, ocr_lang=self.ocr_lang,
            )
        except UnsupportedFileError as exc:
            return FileEntry(source, "unsupported", str(exc), held)
        except LoaderError as exc:
            return FileEntry(source, getattr(exc, "status", "failed"), str(exc), held)

    def _write(
        self,
        store: Store,
        pending: list[_Pending],
        gone: list[str],
        statuses: list[FileEntry],
        report: SyncReport,
        progress: Progress | None,
        leads: bool,
    ) -> Counter[str]:
        """Write the changes; returns chunks embedded per file path."""
        chunker = Chunker(self.chunking, self.embedder.count_tokens, self.embedder.count_tokens_many)
        embedded: Counter[str] = Counter()
        with store.batch() as batch:
            for f in gone:
                batch.remove_file(f)
            for e in statuses:
                batch.set_file_status(e.path, e.status, e.reason, e.documents)
        for group in _groups(pending, chunker):
            pairs = [(p, d) for p, docs in group for d in docs]
            cut = chunker.split_many([d for _, d in pairs])
            items = [(p, d, chunks) for (p, d), chunks in zip(pairs, cut, strict=True)]
            headers = self._headers([d.title for _, d, _ in items])
            texts = [f"{headers[d.title]}\n{c.text}" if headers[d.title] else c.text
                     for _, d, chunks in items for c in chunks]
            vectors = self._encode(texts, progress)
            fault_point("sync.after_embed")
            starts = np.cumsum([0] + [len(chunks) for _, _, chunks in items])
            lead_of = self._lead_vectors(items, vectors, starts, progress) if leads else {}
            with store.batch() as batch:
                for p, _ in group:
                    batch.upsert_file(p.path, p.hash, p.size)
                    batch.remove_documents(p.remove)
                    batch.set_file_status(p.path, p.entry.status, p.entry.reason, p.entry.documents)
                for n, (p, doc, chunks) in enumerate(items):
                    batch.add_document(doc, p.path, chunks, vectors[starts[n] : starts[n + 1]], lead_of.get(n))
            report.chunks_embedded += len(texts)
            report.leads_embedded += len(lead_of)
            embedded.update({p.path: len(chunks) for p, _, chunks in items})
        return embedded

    def _lead_vectors(
        self, items: list[tuple[_Pending, Document, list]], vectors: np.ndarray, starts: np.ndarray,
        progress: Progress | None,
    ) -> dict[int, np.ndarray]:
        """Item number → unit(first chunk's vector + lead sentence's vector), for documents with a lead."""
        found = [(n, lead_text(doc.title, doc.text)) for n, (_, doc, chunks) in enumerate(items) if chunks]
        found = [(n, text) for n, text in found if text]
        if not found:
            return {}
        encoded = self._encode([text for _, text in found], progress, stage="embedding leads")
        mixed = vectors[starts[[n for n, _ in found]]] + encoded
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        return {n: row for (n, _), row in zip(found, mixed, strict=True)}

    def _encode(self, texts: list[str], progress: Progress | None, stage: str = "embedding chunks") -> np.ndarray:
        if progress is None:
            return self.embedder.encode(texts, show_progress=len(texts) > 64)
        if not texts:
            return self.embedder.encode([])
        # Steps of similar length, as one encode call would batch them: little padding per batch.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.embedder.dimension), dtype=np.float32)
        step = max(self.embedder.batch_size * 4, 256)
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            out[rows] = self.embedder.encode([texts[i] for i in rows])
            progress(stage, min(start + step, len(texts)), len(texts))
        return out

    def embed_text(self, title: str, text: str) -> str:
        """What the model reads for a chunk: its document title (≤ 32 tokens) on a line, then the chunk."""
        header = self._headers([title])[title]
        return f"{header}\n{text}" if header else text

    def _headers(self, titles: Sequence[str]) -> dict[str, str]:
        """Title → the header put above its chunks: whitespace normalized, cut to ≤ TITLE_TOKENS tokens.

        All titles are counted in one batched tokenizer call; only the rare long ones are cut word by word.
        """
        unique = list(dict.fromkeys(" ".join(t.split()) for t in titles))
        fits = dict(zip(unique, (n <= TITLE_TOKENS for n in self.embedder.count_tokens_many(unique)), strict=True))
        headers: dict[str, str] = {}
        for title in titles:
            words = title.split()
            joined = " ".join(words)
            if not fits[joined]:
                while words and self.embedder.count_tokens(" ".join(words)) > TITLE_TOKENS:
                    words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
            headers[title] = " ".join(words)
        return headers


def _dedupe(docs: list[Document]) -> list[Document]:
    """Keep the first document of each id (a CSV with repeated ids must not crash the write)."""
    seen: dict[str, Document] = {}
    for doc in docs:
        seen.setdefault(doc.id, doc)
    return list(seen.values())


def _unreadable(found: FoundFile, source: str, held: int) -> FileEntry | str:
    """The entry of a file no loader can be asked to read (``held``: documents kept), else its content hash."""
    if found.problem is not None:
        return FileEntry(source, "failed", found.problem, held)
    if not found.supported:
        kind = f"file type {found.path.suffix!r}" if found.path.suffix else "file without an extension"
        return FileEntry(source, "unsupported", f"{found.path}: unsupported {kind} (no loader reads it)", held)
    try:
        return file_hash(found.path)
    except OSError as exc:
        return FileEntry(source, "failed", f"{found.path}: cannot be read ({exc.strerror or exc})", held)


def _under(roots: list[Path]) -> Callable[[str], bool]:
    """A test of whether a path is one of ``roots`` or inside one: a set lookup per parent, not a scan of the
    roots (a watcher syncing 1,000 changed files names 1,000 roots)."""
    names = {str(r) for r in roots}

    def test(path: str) -> bool:
        p = Path(path)
        return path in names or any(str(parent) in names for parent in p.parents)

    return test


def _groups(pending: list[_Pending], chunker: Chunker) -> list[list[tuple[_Pending, list[Document]]]]:
    """Split the pending files into write groups of about GROUP_CHUNKS chunks (by text length estimate)."""
    groups: list[list[tuple[_Pending, list[Document]]]] = [[]]
    limit = int(os.environ.get("SIFT_GROUP_CHUNKS") or GROUP_CHUNKS)
    budget = 0
    for p in pending:
        size = sum(len(d.text) for d in p.docs) // 800 + len(p.docs)  # ~800 chars per chunk
        if groups[-1] and budget + size > limit:
            groups.append([])
            budget = 0
        groups[-1].append((p, p.docs))
        budget += size
    return [g for g in groups if g]
