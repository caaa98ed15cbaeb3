"""The Workspace's analysis verbs: classify, label the index, topics, ask (RAG) and citation locations.

:class:`AnalysisVerbs` is a part of :class:`app.workspace.Workspace` (it inherits it); the verbs live here
so each module keeps to one concern. They use the Workspace's store, embedder and search, and load their
heavy stacks (scikit-learn, UMAP/HDBSCAN, llama.cpp) only when called.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.classify_verbs import ClassifyVerbs
from indexing.errors import ConfigError

if TYPE_CHECKING:
    from indexing.datatypes import Hit
    from indexing.embedder import Embedder
    from indexing.store import DocumentRecord, Store
    from indexing.store.records import ChunkRecord
    from pipelines.generation import Generator
    from pipelines.options import AskOptions
    from pipelines.rag import Answer, RAGPipeline
    from pipelines.rag.conversation import Conversation, Exchange
    from pipelines.rag.events import AskEvent
    from pipelines.rag.locate import Location
    from pipelines.topics import IndexTopics

_GENERATORS_LOCK = threading.Lock()
_GENERATORS: dict[tuple[str | None, str | None], Generator] = {}


def shared_generator(preset: str | None = None, model_path: str | Path | None = None) -> Generator:
    """One generator per (preset, model path) per process: weights load once."""
    from pipelines.generation import load_generator
    from pipelines.generation.presets import default_preset

    key = (preset or default_preset(), str(model_path) if model_path else None)
    with _GENERATORS_LOCK:
        if key not in _GENERATORS:
            _GENERATORS[key] = load_generator(preset, model_path=model_path)
        return _GENERATORS[key]


class AnalysisVerbs(ClassifyVerbs):
    """Classify (:class:`app.classify_verbs.ClassifyVerbs`), topics, ask and locate over a Workspace's index
    (see :class:`app.workspace.Workspace`)."""

    store: Store
    embedder: Embedder

    def exists(self) -> bool:  # provided by the Workspace
        raise NotImplementedError

    def document(self, doc_id: str) -> DocumentRecord | None:  # provided by the Workspace
        raise NotImplementedError

    def documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentRecord]:  # by the Workspace
        raise NotImplementedError

    def chunks(self, ids: Sequence[int] | None = None) -> list[ChunkRecord]:  # provided by the Workspace
        raise NotImplementedError

    def search_with_gate(self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
                         source: str | None = None) -> tuple[list[Hit], float | None]:  # provided by the Workspace
        raise NotImplementedError

    def absent_words(self, query: str) -> list[str]:  # provided by the Workspace
        raise NotImplementedError

    # ---- topics (issue 4) ------------------------------------------------------------------
    def topics(self, *, names: bool = False, **options: Any) -> IndexTopics:
        """Topics of the indexed vectors (nothing re-embedded); saved with the index and reused until it changes.

        Options are those of :func:`pipelines.topics.index_topics`: ``n_topics``, ``min_cluster_size``,
        ``seed``, ``level`` ("chunk"/"doc"), ``labeler``, ``refresh``, ``allow_stale``, ``progress``.
        ``names=True`` has the local generator (the default preset's shared one) write each topic's name
        from its keywords and central texts (:class:`pipelines.topics.naming.GeneratorNamer`); off by
        default here because it loads the generator. Writes ``topic_id`` and ``topic_label`` metadata, so
        ``search(..., where={"topic_id": "3"})`` works.

        Raises:
            ConfigError: ``names`` together with a ``labeler`` of the caller's.

        Example:
            >>> [t.label for t in ws.topics(n_topics=2, seed=0, names=True).model.topics_]  # doctest: +SKIP
            ['Baking bread and pasta', 'Pets and birds of prey']
        """
        from pipelines.topics import index_topics

        if names:
            if options.get("labeler") is not None:
                raise ConfigError("give either names=True or a labeler, not both")
            from pipelines.topics.naming import GeneratorNamer

            options["labeler"] = GeneratorNamer(shared_generator())
        return index_topics(self.store, **options)

    def saved_topics(self) -> IndexTopics | None:
        """The topics saved with the index (``stale`` set when the index changed since), or None."""
        from pipelines.topics import load_index_topics

        return load_index_topics(self.store) if self.exists() else None

    # ---- ask: one contract for every front end (issue 22) ---------------------------------------
    ask_defaults: AskOptions

    def ask_options(self, options: AskOptions | None = None, **overrides: Any) -> AskOptions:
        """``options`` (default: this Workspace's :attr:`ask_defaults`) with ``overrides`` applied and checked."""
        return (options or self.ask_defaults).merged(**overrides)

    def rag(self, options: AskOptions | None = None, **overrides: Any) -> RAGPipeline:
        """The RAG pipeline ``options`` describe, over this index, with a (process-cached) local generator.

        Answers are checked sentence by sentence with this index's embedding model and citations are
        located in their documents. Front ends do not build pipelines: they call :meth:`converse`.

        Example:
            >>> ws.rag(k=3, preset="smollm2-135m").k                # doctest: +SKIP
            3
        """
        from pipelines.rag import RAGPipeline

        opts = self.ask_options(options, **overrides)
        return RAGPipeline(
            self, shared_generator(opts.preset, opts.model_path), k=opts.k, mode=opts.mode,
            config=opts.generation(), refusal=opts.refusal(), answer_length=opts.answer_length,
            passage_tokens=opts.passage_tokens, embed=self.embedder.encode, locate=self._passage_location,
        )

    def _passage_location(self, passage: Any) -> Location | None:
        """A cited passage's place; None (no place shown) when its document was re-indexed mid-answer."""
        try:
            return self.locate(passage.doc_id, passage.start, passage.end)
        except ValueError:
            return None

    def converse(
        self, thread: list[Exchange], question: str, options: AskOptions | None = None, **overrides: Any,
    ) -> Iterator[AskEvent]:
        """Answer ``question`` as the next turn of ``thread``: the one Ask verb every front end calls.

        The follow-up is rewritten to stand alone (``options.rewrite``) and retrieved now, so a bad filter or a
        missing index fails before anything streams; then the events come: :class:`Retrieved`, checked
        :class:`Token` pieces (joined, exactly the answer's text), :class:`Done` with the :class:`Answer`,
        its ``finish_reason`` and ``usage``. The turn is appended to ``thread`` when Done is read. Closing
        the iterator early (a client left) stops the generation and frees the generator.

        Args:
            thread: the turns so far (:meth:`thread` rebuilds one from a client's history); appended to.
            question: the question as typed.
            options: :class:`~pipelines.options.AskOptions` (default :attr:`ask_defaults`); ``overrides``
                change single fields, e.g. ``k=3``.

        Example:
            >>> thread = []
            >>> text = "".join(e.text for e in ws.converse(thread, "who painted the water lilies")
            ...                if isinstance(e, Token))                               # doctest: +SKIP
            >>> thread[-1].answer == text                                             # doctest: +SKIP
            True
        """
        opts = self.ask_options(options, **overrides)
        return self._conversation(thread, opts).events(question, where=opts.where, source=opts.source)

    def thread(
        self, turns: Sequence[tuple[str, str]], options: AskOptions | None = None, **overrides: Any,
    ) -> list[Exchange]:
        """A thread rebuilt from a client's (question, answer) history, as :meth:`converse` would have left it."""
        opts = self.ask_options(options, **overrides)
        chat = self._conversation([], opts)
        chat.restore(turns, where=opts.where, source=opts.source)
        return chat.exchanges

    def _conversation(self, thread: list[Exchange], opts: AskOptions) -> Conversation:
        from pipelines.rag.conversation import Conversation, make_rewriter

        rag = self.rag(opts)
        return Conversation(rag, make_rewriter(opts.rewrite, rag.generator), thread)

    def ask(self, question: str, options: AskOptions | None = None, **overrides: Any) -> Answer:
        """Answer ``question`` from the index with numbered citations, or refuse when evidence is weak.

        A one-turn :meth:`converse`, read to the end.

        Example:
            >>> ws.ask("when was the eiffel tower finished", k=3).text                # doctest: +SKIP
            'The Eiffel Tower was finished in 1889 [1].'
        """
        from pipelines.rag.answer import final_answer

        return final_answer(self.converse([], question, options, **overrides))

    # ---- evaluation on the user's own documents (issue 27) ----------------------------------------
    def sample_chunks(self, n: int, seed: int = 0) -> list[ChunkRecord]:
        """Up to ``n`` chunks spread over the documents: one of each document per round, in a seeded order
        (:func:`pipelines.corpus_eval.sample.round_robin`), so a long file does not supply them all.

        Example:
            >>> len({c.doc_id for c in ws.sample_chunks(4)})          # 4 documents or more indexed  # doctest: +SKIP
            4
        """
        from pipelines.corpus_eval.sample import round_robin

        picks = round_robin([(d.id, d.n_chunks) for d in self.documents()], n, seed)
        chunk_ids: dict[str, list[int]] = {}
        for doc_id, _ in picks:
            if doc_id not in chunk_ids:
                chunk_ids[doc_id] = sorted(int(i) for i in self.store.filter_ids({"doc_id": doc_id}))
        return self.chunks([chunk_ids[doc_id][position] for doc_id, position in picks])

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
        return None if record is None else locate(record.text, record.meta, start, end, source=record.source,
                                                   doc_id=record.id)
