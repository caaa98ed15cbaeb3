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

from indexing.chunker import ChunkerConfig
from indexing.datatypes import Document
from indexing.embedder import Embedder
from indexing.engines import ENGINES, Engine, Progress, make_engine
from indexing.engines.embedding import TITLE_TOKENS, title_headers
from indexing.env import env_int
from indexing.errors import IndexMismatchError, SiftError
from indexing.faults import fault_point
from indexing.lead import LEAD_STYLES
from indexing.loaders import LoadOptions
from indexing.loaders.files import FoundFile, scan_files
from indexing.loaders.ocr import ocr_workers
from indexing.loaders.ocr import reporting as ocr_reporting
from indexing.manifest import VECTOR_INDEXES, Manifest, check_choice
from indexing.report import FileEntry, SyncReport
from indexing.store import Store
from indexing.store.records import FileStatus

log = logging.getLogger(__name__)
GROUP_CHUNKS = 20_000  # chunks embedded per write batch: progress is durable per group (SIFT_GROUP_CHUNKS)
__all__ = ["ENGINES", "GROUP_CHUNKS", "TITLE_TOKENS", "Progress", "Syncer", "file_hash"]


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


@dataclass
class _Seen:
    """A file the scan reached: its content hash (or why it cannot be read) and the documents indexed from it."""

    found: FoundFile
    source: str
    digest: FileEntry | str
    old_docs: dict[str, str]
    known: str | None = None  # the hash the index holds for it

    @property
    def unchanged(self) -> bool:
        """Same bytes as indexed: not even parsed."""
        return isinstance(self.digest, str) and self.digest == self.known


class Syncer:
    """Indexes paths into a store.

    ``lead_vectors``: give each document's first chunk a lead vector (:mod:`indexing.lead`); None
    keeps an existing index's setting and turns them on for a new one. ``ocr`` and ``ocr_lang`` go to
    :func:`~indexing.loaders.load_file`: whether to recognize text in scanned pages and images, in
    which tesseract language(s) (e.g. ``"eng+deu"``). ``engine`` says where files are loaded, chunked
    and embedded (:mod:`indexing.engines`): ``"local"`` in this process, ``"ray"`` on a Ray cluster
    (``ray_address``: ``"auto"`` or ``"HOST:PORT"``; None starts a local Ray for the sync); writes
    always happen here, with the same groups and transactions either way.

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
        vector_index: str | None = None,
        engine: str = "local",
        ray_address: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.chunking = chunking or ChunkerConfig()
        self.text_column = text_column
        self.title_column = title_column
        self.lead_vectors = lead_vectors
        options = LoadOptions(text_column, title_column, ocr=ocr, ocr_lang=ocr_lang)  # refuses a bad option first
        self.ocr = ocr
        self.ocr_lang = ocr_lang
        self.vector_index = vector_index and check_choice(vector_index, VECTOR_INDEXES, "--vector-index")
        self.engine = check_choice(engine, ENGINES, "--engine")
        self.ray_address = ray_address
        self._engine = make_engine(self.engine, embedder, self.chunking, options, ray_address)  # checks Ray is there

    def manifest(self) -> Manifest:
        """The manifest this syncer's settings produce."""
        return Manifest(
            embedding_model=self.embedder.name,
            dimension=self.embedder.dimension,
            chunk_size=self.chunking.chunk_size,
            chunk_overlap=self.chunking.chunk_overlap,
            lead_vectors=self.lead_vectors is not False,
            vector_index=self.vector_index or "auto",
            quantize=getattr(self.embedder, "quantize", "none"),
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
        group_chunks()  # a bad SIFT_GROUP_CHUNKS fails here, before any file is read
        ocr_workers()  # and a bad SIFT_OCR_WORKERS
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
            self._check_vector_index(store.manifest)
        known = store.files() if store else {}
        last = {s.path: s for s in store.file_statuses()} if store else {}
        report = SyncReport(dry_run=dry_run)
        with self._engine as engine:  # leaving it stops a local Ray the engine started
            with ocr_reporting(progress):  # a scanned file reports its pages as they are read
                pending, seen = self._scan(roots, known, last, store, report, engine)
            under = _under(roots)
            gone = sorted(f for f in known.keys() | last.keys() if f not in seen and under(f))
            for f in gone:
                report.removed.extend(store.document_hashes(f) if store else [])
            in_pending = {p.path for p in pending}
            statuses = [e for e in report.files if e.path not in in_pending and e.differs_from(last.get(e.path))]
            if not dry_run and (pending or gone or statuses):
                store = store or Store.create(self.index_dir, self.manifest())
                chunks = self._write(store, pending, gone, statuses, report, progress, engine)
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
        if stored.leads and stored.leads not in LEAD_STYLES:
            raise IndexMismatchError(
                f"index {self.index_dir} was built with lead style {stored.leads}, which this sift does not know "
                f"(it writes {', '.join(map(str, LEAD_STYLES))}): upgrade sift, or index into a new --index directory"
            )

    def _check_vector_index(self, stored: Manifest) -> None:
        if self.vector_index is not None and self.vector_index != stored.vector_index:
            raise IndexMismatchError(
                f"index {self.index_dir} uses --vector-index {stored.vector_index}, not {self.vector_index}: "
                f"convert it with `sift optimize --index {self.index_dir} --vector-index {self.vector_index}`"
            )

    def _scan(
        self, roots: list[Path], known: dict[str, str], last: dict[str, FileStatus], store: Store | None,
        report: SyncReport, engine: Engine,
    ) -> tuple[list[_Pending], set[str]]:
        """Hash every file, have the engine load the new and changed ones, sort their documents into the report."""
        files: list[_Seen] = []
        for found in scan_files(roots):
            source = found.key
            report.files_seen += 1
            old_docs = store.document_hashes(source) if store and source in known else {}
            files.append(_Seen(found, source, _unreadable(found, source, len(old_docs)), old_docs, known.get(source)))
        to_load = [f for f in files if isinstance(f.digest, str) and not f.unchanged]
        loaded = dict(zip((f.source for f in to_load), engine.load([f.found for f in to_load]), strict=True))
        pending: list[_Pending] = []
        for f in files:
            if f.unchanged:  # not even parsed
                report.unchanged.extend(f.old_docs)
                report.files.append(FileEntry.kept(f.source, last.get(f.source), len(f.old_docs)))
                continue
            read = loaded[f.source] if isinstance(f.digest, str) else f.digest
            if isinstance(read, FileEntry):  # a folder full of pictures or archives is expected: no warning each
                read = replace(read, path=f.source, documents=len(f.old_docs))
                log.log(logging.INFO if read.status == "unsupported" else logging.WARNING, "skipped %s", read.reason)
                report.files.append(read)
                continue
            pending.append(self._sort(f, read, report))
        return pending, {f.source for f in files}

    def _sort(self, f: _Seen, read: list[Document], report: SyncReport) -> _Pending:
        """Put a loaded file's documents in the report's buckets; its pending write (only changed documents)."""
        docs = _dedupe(read)
        new_ids = {d.id for d in docs}
        for doc in docs:
            bucket = (
                report.added
                if doc.id not in f.old_docs
                else (report.unchanged if f.old_docs[doc.id] == doc.hash else report.updated)
            )
            bucket.append(doc.id)
        stale = [d for d in f.old_docs if d not in new_ids]
        report.removed.extend(stale)
        todo = [d for d in docs if f.old_docs.get(d.id) != d.hash]
        entry = FileEntry.read(f.source, str(f.found.path), docs)
        report.files.append(entry)
        return _Pending(f.source, str(f.digest), f.found.path.stat().st_size, todo, stale, entry)

    def _write(
        self,
        store: Store,
        pending: list[_Pending],
        gone: list[str],
        statuses: list[FileEntry],
        report: SyncReport,
        progress: Progress | None,
        engine: Engine,
    ) -> Counter[str]:
        """Write the changes, one write group per transaction as the engine hands them back; chunks per file."""
        embedded: Counter[str] = Counter()
        with store.batch() as batch:
            for f in gone:
                batch.remove_file(f)
            for e in statuses:
                batch.set_file_status(e.path, e.status, e.reason, e.documents)
        groups = _groups(pending)
        results = engine.embed([[d for _, docs in g for d in docs] for g in groups], store.manifest.leads,
                               progress)
        for group, done in zip(groups, results, strict=True):
            pairs = [(p, d) for p, docs in group for d in docs]
            fault_point("sync.after_embed")
            with store.batch() as batch:
                for p, _ in group:
                    batch.upsert_file(p.path, p.hash, p.size)
                    batch.remove_documents(p.remove)
                    batch.set_file_status(p.path, p.entry.status, p.entry.reason, p.entry.documents)
                for n, (p, doc) in enumerate(pairs):
                    batch.add_document(doc, p.path, done.chunks[n], done.rows(n), done.leads.get(n))
            report.chunks_embedded += len(done.vectors)
            report.leads_embedded += len(done.leads)
            for n, (p, _) in enumerate(pairs):
                embedded[p.path] += len(done.chunks[n])
        return embedded

    def embed_text(self, title: str, text: str) -> str:
        """What the model reads for a chunk: its document title (≤ 32 tokens) on a line, then the chunk."""
        header = self._headers([title])[title]
        return f"{header}\n{text}" if header else text

    def _headers(self, titles: Sequence[str]) -> dict[str, str]:
        """Title → the header put above its chunks (:func:`~indexing.engines.embedding.title_headers`)."""
        return title_headers(self.embedder, titles)


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


def group_chunks() -> int:
    """Chunks per write group: ``SIFT_GROUP_CHUNKS``, else :data:`GROUP_CHUNKS`.

    Raises:
        ConfigError: ``SIFT_GROUP_CHUNKS`` is not a whole number ≥ 1.

    Example:
        >>> group_chunks()
        20000
    """
    return env_int("SIFT_GROUP_CHUNKS", GROUP_CHUNKS, minimum=1)


def _groups(pending: list[_Pending]) -> list[list[tuple[_Pending, list[Document]]]]:
    """Split the pending files into write groups of about GROUP_CHUNKS chunks (by text length estimate)."""
    groups: list[list[tuple[_Pending, list[Document]]]] = [[]]
    limit = group_chunks()
    budget = 0
    for p in pending:
        size = sum(len(d.text) for d in p.docs) // 800 + len(p.docs)  # ~800 chars per chunk
        if groups[-1] and budget + size > limit:
            groups.append([])
            budget = 0
        groups[-1].append((p, p.docs))
        budget += size
    return [g for g in groups if g]
