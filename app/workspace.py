"""The Workspace: the Python API that the CLI and the UI both call.

Example:
    >>> from app.workspace import Workspace
    >>> ws = Workspace("data/index")                       # doctest: +SKIP
    >>> ws.index(["docs/"]).summary()                       # doctest: +SKIP
    'added 12, updated 0, removed 0, unchanged 0, skipped 0, unsupported 0 (...)'
    >>> ws.search("how do I install it", k=5, mode="hybrid")[0].title   # doctest: +SKIP
    'Installation'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis import AnalysisVerbs, shared_generator
from app.evaluation import EvaluationVerbs
from app.settings import Settings
from indexing.chunker import ChunkerConfig
from indexing.datatypes import Hit
from indexing.embedder import Embedder, resolve_weights
from indexing.errors import IndexNotFoundError
from indexing.manifest import QUANTIZE, VECTOR_INDEXES, check_choice, weights_family
from indexing.report import SyncReport
from indexing.store import DocumentRecord, Store
from indexing.store.records import FileStatus, check_status
from indexing.sync import Progress, Syncer
from pipelines.options import AskOptions, ClassifyOptions, SearchOptions
from pipelines.search import SearchConfig, Searcher

if TYPE_CHECKING:  # heavy stacks load only when used
    from indexing.doctor import DoctorReport
    from indexing.manifest import Manifest
    from indexing.store.records import ChunkRecord

__all__ = ["AskOptions", "ClassifyOptions", "SearchOptions", "Workspace", "shared_embedder", "shared_generator"]

_EMBEDDERS: dict[tuple[str, str | None, int, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(model: str, device: str | None = None, batch_size: int = 64, quantize: str = "none") -> Embedder:
    """One embedder per (model, device, batch size, weights) per process: models load once.

    ``quantize="auto"`` is resolved first (:func:`indexing.embedder.resolve_weights`).
    """
    key = (model, device, batch_size, resolve_weights(quantize, device))
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(model, device=device, batch_size=batch_size, quantize=key[3])
        return _EMBEDDERS[key]


class Workspace(AnalysisVerbs, EvaluationVerbs):
    """An index directory plus the models that read and write it.

    The constructor is cheap; the embedding model loads on first use and the index opens on
    first query. An existing index dictates its embedding model (from its manifest) unless a
    model is passed explicitly, in which case a mismatch is refused.

    Args:
        index_dir: the index directory (default from settings: ``$SIFT_INDEX`` or ``data/index``).
        settings: full settings; ``index_dir`` and ``model`` override it when given.
        model: embedding model name or path.
        ask / search / classify: the default :class:`~pipelines.options.AskOptions` /
            :class:`~pipelines.options.SearchOptions` / :class:`~pipelines.options.ClassifyOptions` of :meth:`converse`,
            :meth:`search` and :meth:`classify`; each call may override fields.
    """

    def __init__(
        self, index_dir: str | Path | None = None, settings: Settings | None = None, model: str | None = None,
        *, ask: AskOptions | None = None, search: SearchOptions | None = None, classify: ClassifyOptions | None = None,
    ) -> None:
        base = settings or Settings.load()
        self.settings = replace(base, index_dir=Path(index_dir)) if index_dir else base
        self.explicit_model = model
        self.ask_defaults = ask or AskOptions()
        self.search_defaults = search or SearchOptions()
        self.classify_defaults = classify or ClassifyOptions()
        self._store: Store | None = None
        self._searcher: Searcher | None = None

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    @property
    def model_name(self) -> str:
        """The embedding model to use: explicit, else the index's, else the settings'."""
        if self.explicit_model:
            return self.explicit_model
        if Store.exists(self.index_dir):
            return self.store.manifest.embedding_model
        return self.settings.model

    @property
    def quantize(self) -> str:
        """The embedding weights to use: the index's (from its manifest), else the settings' (``auto`` resolved)."""
        if Store.exists(self.index_dir):
            return self.store.manifest.quantize
        return resolve_weights(self.settings.quantize, self.settings.device)

    @property
    def embedder(self) -> Embedder:
        return shared_embedder(self.model_name, self.settings.device, self.settings.batch_size, self.quantize)

    @property
    def store(self) -> Store:
        """The open index (raises IndexNotFoundError when there is none yet)."""
        if self._store is None:
            self._store = Store.open(self.index_dir)
        return self._store

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(self.store, self.embedder, SearchConfig())
        return self._searcher

    def exists(self) -> bool:
        """True when an index has been built here."""
        return Store.exists(self.index_dir)

    def close(self) -> None:
        """Close the open index (if any); the next query opens it again."""
        if self._store is not None:
            self._store.close()
            self._store, self._searcher = None, None

    # ---- indexing --------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[str | Path],
        *,
        dry_run: bool = False,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        text_column: str | None = None,
        title_column: str | None = None,
        lead_vectors: bool | None = None,
        ocr: bool | None = None,
        ocr_lang: str | None = None,
        vector_index: str | None = None,
        engine: str = "local",
        ray_address: str | None = None,
        quantize: str | None = None,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Add, update and remove documents so the index matches ``paths``; report every file's status.

        ``lead_vectors=False`` builds a new index without lead vectors (:mod:`indexing.lead`):
        about a fifth faster to build, weaker at finding a document from a description of it.
        ``ocr`` / ``ocr_lang`` (default from settings: ``SIFT_OCR``, ``SIFT_OCR_LANG``) say whether
        scanned pages and images are read with tesseract, and in which language(s), e.g. ``"eng+deu"``.
        ``vector_index`` (new index: ``auto`` when None) is one of ``flat``, ``hnsw``, ``ivf-pq``,
        ``auto``; an existing index keeps its own (:meth:`optimize` converts). ``engine="ray"`` fans
        loading, chunking and embedding out over a Ray cluster (``ray_address``; none: a local one).
        ``quantize="int8"`` embeds a new index with int8-quantized weights (default from settings).

        Raises:
            IndexMismatchError: the index was built with another model, chunker, lead-vector setting,
                vector index or quantization.
            SiftError: a path does not exist.
        """
        chunking = self._chunking(chunk_size, chunk_overlap)
        weights = self._weights(quantize)
        embedder = shared_embedder(self.model_name, self.settings.device, self.settings.batch_size, weights)
        syncer = Syncer(
            self.index_dir, embedder, chunking, text_column, title_column, lead_vectors,
            ocr=self.settings.ocr if ocr is None else ocr,
            ocr_lang=self.settings.ocr_lang if ocr_lang is None else ocr_lang,
            vector_index=vector_index, engine=engine, ray_address=ray_address,
        )
        report = syncer.sync([Path(p) for p in paths], dry_run=dry_run, progress=progress)
        if self._store is None and Store.exists(self.index_dir):
            self._store = Store.open(self.index_dir)
        elif self._store is not None:
            self._store.refresh()
        return report

    def _weights(self, asked: str | None) -> str:
        """The weights :meth:`index` embeds with: an existing index's own unless another kind is asked for
        (which its manifest then refuses); ``auto`` or ``int8`` keep an index's earlier int8 layout."""
        if asked is None:
            return self.quantize
        asked = check_choice(asked, QUANTIZE, "quantize")
        if Store.exists(self.index_dir):
            stored = self.store.manifest.quantize
            if asked == "auto" or asked == weights_family(stored):
                return stored
        return resolve_weights(asked, self.settings.device)

    def _chunking(self, chunk_size: int | None, chunk_overlap: int | None) -> ChunkerConfig:
        if Store.exists(self.index_dir) and chunk_size is None and chunk_overlap is None:
            manifest = self.store.manifest
            return ChunkerConfig(manifest.chunk_size, manifest.chunk_overlap)
        return ChunkerConfig(
            chunk_size if chunk_size is not None else self.settings.chunk_size,
            chunk_overlap if chunk_overlap is not None else self.settings.chunk_overlap,
        )

    def remove(self, sources: Sequence[str | Path]) -> int:
        """Remove indexed files (by path) and everything derived from them. Returns documents removed."""
        removed = 0
        known = self.store.files()
        with self.store.batch() as batch:
            for source in sources:
                key = str(Path(source).expanduser().resolve()) if str(source) not in known else str(source)
                if key in known:
                    removed += batch.remove_file(key)
        return removed

    # ---- queries -------------------------------------------------------------------------
    def search(self, query: str, options: SearchOptions | None = None, **overrides: Any) -> list[Hit]:
        """Top-k chunks for ``query``: ``options`` (default :attr:`search_defaults`) with ``overrides``.

        Example:
            >>> [h.title for h in ws.search("eiffel tower", k=2, mode="bm25")]      # doctest: +SKIP
            ['paris', 'cats']
        """
        opts = (options or self.search_defaults).merged(**overrides)
        with self.store.snapshot():  # the hits' vectors, terms and rows come from one committed generation
            return self.searcher.search(query, k=opts.k, mode=opts.mode, where=opts.where, source=opts.source)

    def search_with_gate(
        self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
        source: str | None = None,
    ) -> tuple[list[Hit], float | None]:
        """The hits of :meth:`search` and the query's best dense cosine, from one search of one snapshot (for Ask)."""
        SearchOptions(k=k, mode=mode, where=where, source=source)
        with self.store.snapshot():
            return self.searcher.search_with_gate(query, k, mode, where, source)

    def absent_words(self, query: str) -> list[str]:
        """The rare words of ``query`` that no indexed document holds (for Ask; see
        :meth:`pipelines.search.Searcher.absent_words`)."""
        with self.store.snapshot():
            return self.searcher.absent_words(query)

    def doctor(self, repair: bool = False) -> DoctorReport:
        """Check the index for damage (`sift doctor`) and, with ``repair``, rebuild what its database allows.

        Works on an index too damaged to open: it never goes through the (cached) store. With ``repair``,
        chunks whose vectors are gone are re-embedded with the manifest's model, nothing else is.
        """
        from indexing.doctor import run_doctor

        if not self.exists():
            raise IndexNotFoundError(f"no index at {self.index_dir}: nothing to check")
        report = run_doctor(self.index_dir, self._embedder_for, repair=repair)
        if report.repaired and self._store is not None:
            self.refresh()
        return report

    def _embedder_for(self, model: str) -> Embedder:
        return shared_embedder(model, self.settings.device, self.settings.batch_size)

    def info(self) -> dict[str, Any]:
        """Index statistics and manifest (the ``sift info --json`` schema)."""
        if not self.exists():
            return {"index_dir": str(self.index_dir), "exists": False}
        store = self.store
        store.refresh()
        return {
            "index_dir": str(self.index_dir),
            "exists": True,
            "documents": store.count_documents(),
            "chunks": store.count_chunks(),
            "lead_vectors": store.count_leads(),
            "files": len(store.files()),
            "generation": store.generation,
            "vector_index": store.manifest.vector_index,
            "segments": store.segments(),
            "manifest": {k: v for k, v in store.manifest.__dict__.items()},
        }

    def optimize(self, vector_index: str | None = None) -> dict[str, Any]:
        """Merge the index's segments into one, dropping deleted rows (`sift optimize`).

        ``vector_index`` (``flat``, ``hnsw``, ``ivf-pq`` or ``auto``) converts the index to that vector
        index and records it in the manifest; None keeps the manifest's. Searches keep running meanwhile:
        they read the generation before until this one commits.

        Returns:
            ``{"before": [...], "after": [...], "seconds": s}``: the segments (as in :meth:`info`) either side.

        Raises:
            IndexNotFoundError: nothing indexed here yet.
            ConfigError: an unknown ``vector_index``.
        """
        import time

        policy = None if vector_index is None else check_choice(vector_index, VECTOR_INDEXES, "--vector-index")
        store = self.store
        store.refresh()
        before = store.segments()
        started = time.perf_counter()
        store.optimize(policy)
        return {"before": before, "after": store.segments(), "vector_index": store.manifest.vector_index,
                "seconds": round(time.perf_counter() - started, 3)}

    def documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentRecord]:
        """Indexed documents (without text), ordered by source."""
        return self.store.documents(limit=limit, offset=offset) if self.exists() else []

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One document with its full text (chunk offsets point into it), or None."""
        return self.store.get_document(doc_id) if self.exists() else None

    def files(self) -> dict[str, str]:
        """Indexed files: path → content hash."""
        return self.store.files() if self.exists() else {}

    def file_statuses(self, status: str | None = None) -> list[FileStatus]:
        """The latest status of every file the syncs considered (or only those with ``status``), by path.

        Statuses: ``parsed``, ``ocr``, ``empty``, ``encrypted``, ``unsupported``, ``failed``; each not
        parsed has a reason naming the file. Empty when nothing is indexed here yet.

        Raises:
            ConfigError: ``status`` is not one of those names.

        Example:
            >>> [(s.status, s.reason) for s in ws.file_statuses("failed")]          # doctest: +SKIP
            [('failed', '/docs/broken.pdf: not a readable PDF (EOF marker not found)')]
        """
        if status is not None:
            check_status(status)  # a wrong name is an error even before there is an index
        return self.store.file_statuses(status) if self.exists() else []

    def meta_values(self, key: str, limit: int = 200) -> list[str]:
        """Distinct values of a document or chunk metadata key, most frequent first (for filter menus)."""
        return self.store.meta_values(key, limit) if self.exists() else []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` with the index's embedding model: (n, dimension) float32."""
        return self.embedder.encode(list(texts))

    def refresh(self) -> bool:
        """Pick up a generation another writer committed since this Workspace last read; True when it did."""
        if self._store is None:
            return False
        before = self._store.generation
        self._store.refresh()
        return self._store.generation != before

    # ---- reads for front ends (issue 13: nothing outside reaches into the store) ----------------
    @property
    def generation(self) -> int:
        """The index generation this Workspace reads; it changes whenever chunks or vectors do (a cache key).

        Raises:
            IndexNotFoundError: nothing is indexed here yet.
        """
        return self.store.generation

    @property
    def manifest(self) -> Manifest | None:
        """How the index was built (embedding model, dimension, chunker settings…), or None before the first index."""
        return self.store.manifest if self.exists() else None

    def chunks(self, ids: Sequence[int] | None = None) -> list[ChunkRecord]:
        """Chunk records (text, offsets, title, source, merged metadata) in the order of ``ids``; unknown ids skipped.

        ``ids=None`` means every chunk of the index (all their text in memory: for benchmarks and small indexes).

        Example:
            >>> ws.chunks([hit.chunk_id for hit in ws.search("cats purr", k=1)])[0].title   # doctest: +SKIP
            'Cats'
        """
        if not self.exists():
            return []
        return self.store.get_chunks(self.store.chunk_ids().tolist() if ids is None else ids)

    def chunk_vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of chunks ``ids``: (len(ids), dimension) float32, in that order."""
        return self.store.vectors(ids)[1]
