"""Ranking metrics over document ids: nDCG@k, MRR@k, Recall@k (BEIR conventions, linear gains)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dedupe_docs(ranked_doc_ids: Sequence[str]) -> list[str]:
    """Keep each document's first (best) position: chunk hits → document ranking."""
    seen: set[str] = set()
    out: list[str] = []
    for doc_id in ranked_doc_ids:
        if doc_id not in seen:
            seen.add(doc_id)
            out.append(doc_id)
    return out


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with gain = relevance grade.

    Example:
        >>> ndcg_at(["a", "b"], {"b": 1}, 10)
        0.6309297535714575
    """
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within k, else 0."""
    for i, d in enumerate(ranked[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of relevant documents found within k."""
    rel = {d for d, g in relevant.items() if g > 0}
    return len(rel.intersection(ranked[:k])) / len(rel) if rel else 0.0


def score_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, MRR@10, Recall@10 and Recall@100 over queries that have relevance judgements."""
    names = {
        "ndcg@10": (ndcg_at, 10),
        "mrr@10": (mrr_at, 10),
        "recall@10": (recall_at, 10),
        "recall@100": (recall_at, 100),
    }
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    out = {name: 0.0 for name in names}
    for q in judged:
        ranked = run.get(q, [])
        for name, (fn, k) in names.items():
            out[name] += fn(ranked, qrels[q], k)
    return {name: (v / len(judged) if judged else 0.0) for name, v in out.items()} | {"queries": float(len(judged))}
