"""The Workspace's evaluation verbs on the user's own index: write a question set, report on it, compare variants.

:class:`EvaluationVerbs` is a part of :class:`app.workspace.Workspace` (it inherits it). ``sift eval corpus``
and the Evaluate page both call these verbs, so a set written in one is the set the other writes.

Example:
    >>> rows, tally = ws.eval_questions(10, seed=0)                                  # doctest: +SKIP
    >>> report = ws.eval_report([eval_item(r) for r in rows], "generated")           # doctest: +SKIP
    >>> report["retrieval"]["hybrid"]["mrr@10"]                                      # doctest: +SKIP
    0.9
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.errors import ConfigError, DatasetError, IndexNotFoundError, ModelNotAvailableError

if TYPE_CHECKING:
    from app.settings import Settings
    from indexing.embedder import Embedder
    from indexing.manifest import Manifest
    from indexing.store.records import ChunkRecord, DocumentRecord
    from pipelines.corpus_eval.compare import Axis, Variant
    from pipelines.corpus_eval.generate import Tally
    from pipelines.options import AskOptions
    from pipelines.rag import RAGPipeline
    from pipelines.rag.datasets import EvalItem
    from pipelines.retrieval_data import RetrievalSet

Steps = Callable[[str, int, int], None]
"""Called with (variant label, its number from 1, variants in all) as each variant starts."""


class EvaluationVerbs:
    """Question sets written from the index, their report, and variants of the index compared on one set."""

    settings: Settings
    index_dir: Path
    embedder: Embedder
    manifest: Manifest | None

    def rag(self, options: AskOptions | None = None, **overrides: Any) -> RAGPipeline:  # by the Workspace
        raise NotImplementedError

    def ask_options(self, options: AskOptions | None = None, **overrides: Any) -> AskOptions:  # by the Workspace
        raise NotImplementedError

    def sample_chunks(self, n: int, seed: int = 0) -> list[ChunkRecord]:  # by the Workspace
        raise NotImplementedError

    def files(self) -> dict[str, str]:  # by the Workspace
        raise NotImplementedError

    def document(self, doc_id: str) -> DocumentRecord | None:  # by the Workspace
        raise NotImplementedError

    def eval_questions(
        self, n: int, seed: int = 0, path: Path | None = None, options: AskOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[dict[str, Any]], Tally]:
        """Write (or complete, when ``path`` holds some) a set of ``n`` questions with Ask's generator.

        Args:
            n: questions wanted, about a fifth unanswerable (:func:`pipelines.corpus_eval.generate.quotas`).
            seed: which chunks are sampled.
            path: the JSONL file the set is appended to as questions are kept; None keeps it in memory.
            options: Ask's options (the generator, the evidence gate).
            progress: called with (questions in the set, ``n``) after each generator call.

        Raises:
            ConfigError: ``n`` below 1.
            DatasetError: no question passed the checks, or ``path`` holds lines the readers refuse.
        """
        from pipelines.corpus_eval.generate import attempt_cap, build_set, candidates

        chunks = candidates(self.sample_chunks(attempt_cap(n), seed))
        rows, tally = build_set(self.rag(options), chunks, n, path, progress=progress)
        if not rows:
            raise DatasetError(f"no generated question passed the checks ({tally.line()}): try a stronger "
                               "generator (--preset) or more questions")
        return rows, tally

    def eval_report(
        self, items: Sequence[EvalItem], name: str, options: AskOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Retrieval per mode, Ask's metrics and the worst questions of ``items`` on this index
        (:func:`pipelines.corpus_eval.report.corpus_report`); ``progress`` gets (questions answered, all)."""
        from indexing.chunker import ChunkerConfig
        from pipelines.corpus_eval.report import corpus_report

        manifest = self._built()
        chunking = ChunkerConfig(manifest.chunk_size, manifest.chunk_overlap)
        return corpus_report(self.rag(options), items, name, self.embedder, self.index_dir, chunking,
                             progress=progress)

    def eval_compare(
        self, items: Sequence[EvalItem], name: str, axes: Sequence[Axis], options: AskOptions | None = None,
        with_ask: bool = False, steps: Steps | None = None,
    ) -> dict[str, Any]:
        """Score ``items`` on variants of this index, each built from its files in a temporary folder (removed
        afterwards): the baseline (this index's settings) and each axis value (:mod:`pipelines.corpus_eval.compare`).

        Returns:
            ``{"set", "answerable", "baseline", "rows": [{"label", "settings", "index_seconds", "query_ms_p50",
            "hit@1", "hit@5", "mrr@10", "ask"?, "skipped"?}], "best"}``; a model that is not installed is a row
            with ``skipped`` saying so.

        Raises:
            ConfigError: an axis the rules refuse (:func:`~pipelines.corpus_eval.compare.variants`).
            DatasetError: no question names its gold document, or a file of the index is gone.
        """
        from pipelines.corpus_eval.compare import Variant, best, variants
        from pipelines.rag.datasets import check_gold_found
        from pipelines.retrieval_data import questions_set

        manifest = self._built()
        opts = self.ask_options(options)
        baseline = Variant(manifest.chunk_size, manifest.chunk_overlap, manifest.lead_vectors,
                           manifest.embedding_model, "hybrid", opts.k)
        plan = variants(axes, baseline, with_ask)
        check_gold_found((d for item in items if item.answerable for d in item.gold_doc_ids),
                         lambda doc_id: self.document(doc_id) is not None, name)
        dataset, paths = questions_set(items, name), self._source_paths()
        rows: list[dict[str, Any]] = []
        built: dict[tuple[Any, ...], tuple[Any, float] | str] = {}
        with tempfile.TemporaryDirectory(prefix="sift-compare-") as tmp:
            for number, (label, variant) in enumerate(plan, start=1):
                if steps is not None:
                    steps(label, number, len(plan))
                key = variant.index_key()
                if key not in built:
                    built[key] = self._variant_index(variant, paths, Path(tmp) / f"variant-{len(built)}")
                rows.append(_score(label, variant, built[key], dataset, items, name, opts, with_ask))
            for entry in built.values():
                if not isinstance(entry, str):
                    entry[0].close()
        return {"set": name, "answerable": len(dataset.queries), "baseline": baseline.describe(), "rows": rows,
                "best": best(rows)}

    def _built(self) -> Manifest:
        if self.manifest is None:
            raise IndexNotFoundError(f"no index at {self.index_dir}: build it with `sift index PATH`")
        return self.manifest

    def _source_paths(self) -> list[Path]:
        """This index's files, which each variant indexes again.

        Raises:
            DatasetError: one is gone (named), since a variant without it would not be comparable.
        """
        paths = [Path(p) for p in sorted(self.files())]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise DatasetError(f"{len(missing)} indexed file(s) no longer exist, e.g. {missing[0]}: run `sift index` "
                               "again (or `sift sync`) so the index matches its files, then compare")
        return paths

    def _variant_index(self, variant: Variant, paths: list[Path], folder: Path) -> tuple[Any, float] | str:
        """(Workspace of the variant's index, seconds to build it), or why not (a model not installed, a chunk
        size the model cannot read).

        The model loads before the clock starts, so index time is chunking and embedding only.
        """
        manifest = self._built()
        ws = type(self)(folder, settings=self.settings, model=variant.model)  # type: ignore[call-arg]
        try:
            ws.embedder.warm_up()
        except ModelNotAvailableError as exc:
            return str(exc)
        started = time.perf_counter()
        try:
            ws.index(paths, chunk_size=variant.chunk_size, chunk_overlap=variant.overlap, lead_vectors=variant.leads,
                     vector_index=manifest.vector_index, quantize=manifest.quantize)
        except ConfigError as exc:  # e.g. a chunk size the variant's model cannot read: that row only
            ws.close()
            return str(exc)
        return ws, time.perf_counter() - started


def _score(
    label: str, variant: Variant, built: tuple[Any, float] | str, dataset: RetrievalSet, items: Sequence[EvalItem],
    name: str, options: AskOptions, with_ask: bool,
) -> dict[str, Any]:
    """One row: retrieval of the gold document in the variant's mode (and Ask's metrics with ``with_ask``)."""
    from dataclasses import asdict

    from indexing.chunker import ChunkerConfig
    from pipelines.retrieval_eval import evaluate_retrieval

    row: dict[str, Any] = {"label": label, "settings": asdict(variant)}
    if isinstance(built, str):
        return row | {"skipped": built}
    ws, seconds = built
    chunking = ChunkerConfig(variant.chunk_size, variant.overlap)
    scores = evaluate_retrieval(dataset, ws.embedder, ws.index_dir, None, chunking, [variant.mode])
    measured = scores["results"][variant.mode]
    row |= {"index_seconds": round(seconds, 3), "query_ms_p50": round(measured["latency_ms_p50"], 2),
            **{m: measured[m] for m in ("hit@1", "hit@5", "mrr@10")}}
    if with_ask:
        asked = ws.eval_report(items, name, options.merged(k=variant.k, mode=variant.mode))
        row["ask"] = asked["ask"]
    return row
