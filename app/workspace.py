"""The Workspace: the Python API that the CLI and the UI both call.

Example:
    >>> from app.workspace import Workspace
    >>> ws = Workspace("data/index")                       # doctest: +SKIP
    >>> ws.index(["docs/"]).summary()                       # doctest: +SKIP
    'added 12, updated 0, removed 0, unchanged 0, skipped 0 (...)'
    >>> ws.search("how do I install it", k=5, mode="hybrid")[0].title   # doctest: +SKIP
    'Installation'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.settings import Settings
from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.report import SyncReport
from indexing.store import DocumentRecord, Store
from indexing.sync import Progress, Syncer
from indexing.types import Hit
from pipelines.search import SearchConfig, Searcher

if TYPE_CHECKING:  # heavy stacks (umap, hdbscan, llama.cpp) load only when used
    from pipelines.classify import Classifier, IndexClassification
    from pipelines.generation import GenerationConfig, Generator
    from pipelines.rag import Answer, RAGPipeline, Turn
    from pipelines.rag.locate import Location
    from pipelines.topics import IndexTopics

_EMBEDDERS: dict[tuple[str, str | None, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(model: str, device: str | None = None, batch_size: int = 64) -> Embedder:
    """One embedder per (model, device, batch size) per process: models load once."""
    key = (model, device, batch_size)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(model, device=device, batch_size=batch_size)
        return _EMBEDDERS[key]


_GENERATORS: dict[tuple[str | None, str | None], Generator] = {}


def shared_generator(preset: str | None = None, model_path: str | Path | None = None) -> Generator:
    """One generator per (preset, model path) per process: weights load once."""
    from pipelines.generation import load_generator
    from pipelines.generation.presets import default_preset

    key = (preset or default_preset(), str(model_path) if model_path else None)
    with _EMBEDDERS_LOCK:
        if key not in _GENERATORS:
            _GENERATORS[key] = load_generator(preset, model_path=model_path)
        return _GENERATORS[key]


class Workspace:
    """An index directory plus the models that read and write it.

    The constructor is cheap; the embedding model loads on first use and the index opens on
    first query. An existing index dictates its embedding model (from its manifest) unless a
    model is passed explicitly, in which case a mismatch is refused.

    Args:
        index_dir: the index directory (default from settings: ``$SIFT_INDEX`` or ``data/index``).
        settings: full settings; ``index_dir`` and ``model`` override it when given.
        model: embedding model name or path.
    """

    def __init__(
        self, index_dir: str | Path | None = None, settings: Settings | None = None, model: str | None = None
    ) -> None:
        base = settings or Settings.load()
        self.settings = replace(base, index_dir=Path(index_dir)) if index_dir else base
        self.explicit_model = model
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
    def embedder(self) -> Embedder:
        return shared_embedder(self.model_name, self.settings.device, self.settings.batch_size)

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
        progress: Progress | None = None,
    ) -> SyncReport:
        """Add, update and remove documents so the index matches ``paths``.

        ``lead_vectors=False`` builds a new index without lead vectors (:mod:`indexing.lead`):
        about a fifth faster to build, weaker at finding a document from a description of it.

        Raises:
            IndexMismatchError: the index was built with another model, chunker or lead-vector setting.
            SiftError: a path does not exist.
        """
        chunking = self._chunking(chunk_size, chunk_overlap)
        syncer = Syncer(self.index_dir, self.embedder, chunking, text_column, title_column, lead_vectors)
        report = syncer.sync([Path(p) for p in paths], dry_run=dry_run, progress=progress)
        if self._store is None and Store.exists(self.index_dir):
            self._store = Store.open(self.index_dir)
        elif self._store is not None:
            self._store.refresh()
        return report

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
    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        where: dict[str, str] | None = None,
        source: str | None = None,
    ) -> list[Hit]:
        """Top-k chunks for ``query`` in ``mode`` ("dense", "bm25", "hybrid"), filtered by metadata/source."""
        return self.searcher.search(query, k=k, mode=mode, where=where, source=source)

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
            "manifest": {k: v for k, v in store.manifest.__dict__.items()},
        }

    def documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentRecord]:
        """Indexed documents (without text), ordered by source."""
        return self.store.documents(limit=limit, offset=offset) if self.exists() else []

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One document with its full text (chunk offsets point into it), or None."""
        return self.store.get_document(doc_id) if self.exists() else None

    def files(self) -> dict[str, str]:
        """Indexed files: path → content hash."""
        return self.store.files() if self.exists() else {}

    def meta_values(self, key: str, limit: int = 200) -> list[str]:
        """Distinct values of a document or chunk metadata key, most frequent first (for filter menus)."""
        return self.store.meta_values(key, limit) if self.exists() else []

    # ---- classify (issue 3) ----------------------------------------------------------------
    def classify_index(self, classifier: Classifier, key: str = "label") -> IndexClassification:
        """Label every chunk (and document) of the index from its stored vector — nothing is re-embedded.

        Labels go to metadata under ``key``, so ``search(..., where={key: "positive"})`` filters by them.
        """
        from pipelines.classify import classify_index

        return classify_index(self.store, classifier, key=key, index_model=self.store.manifest.embedding_model)

    # ---- topics (issue 4) ------------------------------------------------------------------
    def topics(self, **options: Any) -> IndexTopics:
        """Topics of the indexed vectors (nothing re-embedded); saved with the index and reused until it changes.

        Options are those of :func:`pipelines.topics.index_topics`: ``n_topics``, ``min_cluster_size``,
        ``seed``, ``level`` ("chunk"/"doc"), ``labeler``, ``refresh``, ``allow_stale``, ``progress``.
        Writes ``topic_id`` and ``topic_label`` metadata, so ``search(..., where={"topic_id": "3"})`` works.
        """
        from pipelines.topics import index_topics

        return index_topics(self.store, **options)

    def saved_topics(self) -> IndexTopics | None:
        """The topics saved with the index (``stale`` set when the index changed since), or None."""
        from pipelines.topics import load_index_topics

        return load_index_topics(self.store) if self.exists() else None

    # ---- ask (issue 5) ---------------------------------------------------------------------
    def rag(
        self,
        preset: str | None = None,
        model_path: str | Path | None = None,
        config: GenerationConfig | None = None,
        **options: Any,
    ) -> RAGPipeline:
        """A RAG pipeline over this index with a (process-cached) local generator.

        Args:
            preset: generator preset (default ``$SIFT_GENERATOR`` or "qwen2.5-1.5b"; "qwen2.5-0.5b",
                "smollm2-135m", "phi-3-mini").
            model_path: a .gguf file or transformers model directory instead of the preset's weights.
            config: decoding settings (temperature 0 = greedy, top_p, top_k, max_new_tokens, stop, seed).
            options: passed to :class:`pipelines.rag.RAGPipeline` (``k``, ``mode``, ``refusal``,
                ``passage_tokens``, ...); answers are checked sentence by sentence with this index's
                embedding model and citations located in their documents unless ``embed``/``locate`` say otherwise.
        """
        from pipelines.rag import RAGPipeline

        options.setdefault("embed", self.embedder.encode)
        options.setdefault("locate", self._passage_location)
        return RAGPipeline(self, shared_generator(preset, model_path), config=config, **options)

    def _passage_location(self, passage: Any) -> Location | None:
        """A cited passage's place; None (no place shown) when its document was re-indexed mid-answer."""
        try:
            return self.locate(passage.doc_id, passage.start, passage.end)
        except ValueError:
            return None

    def ask(
        self, question: str, where: dict[str, str] | None = None, history: Sequence[Turn] = (),
        query: str | None = None, **options: Any,
    ) -> Answer:
        """Answer ``question`` from the index with numbered citations, or refuse when evidence is weak.

        ``history`` (earlier turns, :class:`~pipelines.rag.prompt.Turn`, oldest first) goes into the prompt;
        ``query`` is what retrieval searches with when it differs from the question (a follow-up made
        standalone). :class:`pipelines.rag.conversation.Conversation` does both for a thread.
        """
        return self.rag(**options).ask(question, where=where, history=history, query=query)

    # ---- locate (citations) ----------------------------------------------------------------
    def locate(self, doc_id: str, start: int, end: int) -> Location | None:
        """Where a span of an indexed document is: PDF page(s), else nearest heading and line; None if it is gone.

        Raises:
            ValueError: the span is outside the document's text (it was re-indexed since the search).

        Example:
            >>> hit = ws.search("how do I install it")[0]                  # doctest: +SKIP
            >>> ws.locate(hit.doc_id, hit.start, hit.end).label            # doctest: +SKIP
            '§ Installation, line 42'
        """
        from pipelines.rag.locate import locate  # on use, like the other pipeline verbs here

        record = self.document(doc_id)
        return None if record is None else locate(record.text, record.meta, start, end, source=record.source)
