"""Evaluate dense, BM25 and hybrid retrieval on a :class:`RetrievalSet`."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.errors import DatasetError, IndexMismatchError
from indexing.store import Store
from indexing.sync import Syncer
from pipelines.rag.datasets import check_gold_found
from pipelines.retrieval_data import RetrievalSet
from pipelines.retrieval_metrics import dedupe_docs, mrr_at, score_run
from pipelines.search import MODES, Searcher

CHUNKS_PER_QUERY = 300  # chunk hits fetched so that 100 distinct documents remain after dedupe


def build_beir_index(dataset: RetrievalSet, index_dir: Path, embedder: Embedder, chunking: ChunkerConfig) -> None:
    """Write the BEIR corpus as JSONL (id, title, text) next to the index and sync it in."""
    assert dataset.corpus is not None
    corpus_file = index_dir.parent / "corpus" / "corpus.jsonl"
    corpus_file.parent.mkdir(parents=True, exist_ok=True)
    with open(corpus_file, "w", encoding="utf-8") as handle:
        for key, (title, text) in dataset.corpus.items():
            if text.strip():
                handle.write(json.dumps({"id": key, "title": title, "text": text}) + "\n")
    Syncer(index_dir, embedder, chunking, text_column="text", title_column="title").sync([corpus_file])


def doc_key_of(store: Store, by: str, batch_size: int = 5000) -> dict[int, str]:
    """chunk id → document key (``"title"``, ``"source"``, ``"doc_id"`` or a metadata field such as ``"id"``).

    Reads through the store's public API: every chunk id, then the chunk records in batches, so only
    one batch of chunk text is held at a time.

    Example:
        >>> doc_key_of(store, "id")                                      # doctest: +SKIP
        {1: 'doc-17', 2: 'doc-17', 3: 'doc-42'}
    """
    ids = store.chunk_ids()
    out: dict[int, str] = {}
    for start in range(0, len(ids), batch_size):
        for record in store.get_chunks(ids[start : start + batch_size].tolist()):
            out[record.id] = (record.title if by == "title" else record.source if by == "source"
                              else record.doc_id if by == "doc_id" else str(record.meta.get(by, "")))
    return out


def run_queries(
    searcher: Searcher, dataset: RetrievalSet, mode: str, keys: dict[int, str]
) -> tuple[dict[str, list[str]], list[float]]:
    """Ranked document keys per query, and per-query latency in seconds."""
    run: dict[str, list[str]] = {}
    latencies: list[float] = []
    for qid, text in dataset.queries.items():
        started = time.perf_counter()
        ranked = searcher.rank(text, CHUNKS_PER_QUERY, mode)
        latencies.append(time.perf_counter() - started)
        run[qid] = dedupe_docs([keys[cid] for cid, _ in ranked if cid in keys])[:100]
    return run, latencies


def evaluate_retrieval(
    dataset: RetrievalSet,
    embedder: Embedder,
    index_dir: Path | None = None,
    corpus_folder: Path | None = None,
    chunking: ChunkerConfig | None = None,
    modes: Sequence[str] = MODES,
) -> dict[str, Any]:
    """Index the dataset's corpus (or reuse ``index_dir``) and score each mode.

    Args:
        dataset: queries and judgements.
        embedder: the embedding model.
        index_dir: index to (re)use; a temporary one when None.
        corpus_folder: for the wiki set, the folder holding ``summaries_en-us.json``.
        chunking: chunker settings.
        modes: which of dense / bm25 / hybrid to run.

    Returns:
        ``{"dataset", "queries", "model", "results": {mode: {metric: value}}, "index_seconds"}``.

    Raises:
        IndexMismatchError: ``index_dir`` holds an index of another model or quantization than ``embedder``'s.
    """
    chunking = chunking or ChunkerConfig()
    with tempfile.TemporaryDirectory(prefix="sift-eval-") as tmp:
        target = Path(index_dir) if index_dir else Path(tmp) / "index"
        started = time.perf_counter()
        if dataset.corpus is not None:
            build_beir_index(dataset, target, embedder, chunking)
            key_field = "id"
        else:
            if corpus_folder is not None:
                Syncer(target, embedder, chunking).sync([corpus_folder])
            key_field = dataset.doc_key
        index_seconds = time.perf_counter() - started
        store = Store.open(target)
        _check_encoder(store, embedder, target)
        searcher = Searcher(store, embedder)
        keys = doc_key_of(store, key_field)
        if dataset.doc_key == "doc_id":  # a question file naming gold ids: none found is the wrong index or folder
            found = set(keys.values())
            try:
                check_gold_found((g for rel in dataset.qrels.values() for g in rel), found.__contains__, dataset.name)
            except DatasetError:
                store.close()
                raise
        results: dict[str, Any] = {}
        for mode in modes:
            run, latencies = run_queries(searcher, dataset, mode, keys)
            scores = score_run(run, dataset.qrels) | {"hit@1": hit_at_1(run, dataset.qrels),
                                                      "hit@5": hit_at(run, dataset.qrels, 5)}
            scores["latency_ms_mean"] = 1000 * sum(latencies) / max(1, len(latencies))
            scores["latency_ms_p50"] = 1000 * statistics.median(latencies) if latencies else float("nan")
            results[mode] = scores
        store.close()
    return {
        "dataset": dataset.name,
        "queries": len(dataset.queries),
        "model": embedder.name,
        "chunk_size": chunking.chunk_size,
        "index_seconds": round(index_seconds, 2),
        "results": results,
    }


def hit_at_1(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    """Share of judged queries whose first document is relevant (MRR@1).

    Example:
        >>> hit_at_1({"q1": ["a", "b"], "q2": ["b"]}, {"q1": {"a": 1}, "q2": {"a": 1}})
        0.5
    """
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    return sum(mrr_at(run.get(q, []), qrels[q], 1) for q in judged) / len(judged) if judged else 0.0


def hit_at(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int) -> float:
    """Share of judged queries with a relevant document among their first ``k``.

    Example:
        >>> hit_at({"q1": ["a", "b"], "q2": ["b", "c", "a"]}, {"q1": {"b": 1}, "q2": {"a": 1}}, 2)
        0.5
    """
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    return sum(mrr_at(run.get(q, []), qrels[q], k) > 0 for q in judged) / len(judged) if judged else 0.0


def _check_encoder(store: Store, embedder: Embedder, index_dir: Path) -> None:
    """Refuse to query an index with another model or other weights than its manifest's: the scores would
    measure a mismatch, not retrieval.

    Raises:
        IndexMismatchError: the model name or the quantization differ.
    """
    built = (store.manifest.embedding_model, store.manifest.quantize)
    asked = (embedder.name, getattr(embedder, "quantize", "none"))
    if built != asked:
        store.close()
        raise IndexMismatchError(
            f"index {index_dir} was embedded with {built[0]} (quantize={built[1]}) but the queries would be "
            f"embedded with {asked[0]} (quantize={asked[1]}): evaluate it with the index's own model "
            "(`sift eval retrieval --index DIR` picks it from the manifest)"
        )


def format_table(report: dict[str, Any]) -> str:
    """Readable table of a report from :func:`evaluate_retrieval`."""
    metrics = ["hit@1", "ndcg@10", "mrr@10", "recall@10", "recall@100", "latency_ms_mean"]
    lines = [
        f"{report['dataset']}: {report['queries']} queries, model {report['model']}",
        f"{'mode':<8}" + "".join(f"{m:>16}" for m in metrics),
    ]
    for mode, scores in report["results"].items():
        lines.append(f"{mode:<8}" + "".join(f"{scores[m]:>16.4f}" for m in metrics))
    return "\n".join(lines)
