"""`sift topics` and `sift eval topics`."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable

from app.cli.common import add_index_option, print_json, workspace
from app.settings import Settings
from app.workspace import shared_embedder
from indexing.errors import ConfigError
from pipelines.topics.evaluate import DATASETS, evaluate_topics, format_table
from pipelines.topics.index import LEVELS, IndexTopics


def _add_model_options(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group()
    how.add_argument("--min-cluster-size", type=int, metavar="N", help="HDBSCAN: smallest topic (default 1%% of n)")
    how.add_argument("--n-topics", type=int, metavar="K", help="exactly K topics (KMeans) instead of HDBSCAN")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same topics (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``topics`` and ``eval topics``."""
    p = sub.add_parser("topics", help="discover the topics of the index", description=cmd_topics.__doc__)
    add_index_option(p)
    _add_model_options(p)
    p.add_argument("--level", choices=LEVELS, default="chunk", help="cluster chunks (default) or whole documents")
    p.add_argument("--no-refresh", action="store_true", help="show the saved topics; never recompute")
    p.add_argument(
        "--no-names", action="store_true",
        help="label topics with their top keywords instead of names the local generator writes (faster)",
    )
    p.set_defaults(func=cmd_topics)

    p = eval_sub.add_parser("topics", help="NMI/ARI of topics against gold labels, next to BERTopic's defaults")
    p.add_argument("--dataset", choices=DATASETS, default="wiki-topics", help="default: wiki-topics")
    p.add_argument("--model", metavar="NAME", help="embedding model (default all-MiniLM-L6-v2)")
    p.add_argument("--no-bertopic", action="store_true", help="skip the BERTopic comparison")
    _add_model_options(p)
    p.set_defaults(func=cmd_eval_topics)


def _check(args: argparse.Namespace) -> None:
    if args.n_topics is not None and args.n_topics < 1:
        raise ConfigError(f"--n-topics must be at least 1, got {args.n_topics}")
    if args.min_cluster_size is not None and args.min_cluster_size < 2:
        raise ConfigError(f"--min-cluster-size must be at least 2, got {args.min_cluster_size}")


def cmd_topics(args: argparse.Namespace) -> int:
    """Cluster the vectors already in the index into topics (nothing is re-embedded), write
    topic_id/topic_label metadata to every chunk and document (filter with --where topic_id=N), and save the
    result with the index. Saved topics are reused until the index changes or the options differ."""
    _check(args)
    result = workspace(args).topics(
        n_topics=args.n_topics,
        min_cluster_size=args.min_cluster_size,
        seed=args.seed,
        level=args.level,
        names=not args.no_names,
        refresh=not args.no_refresh,
        allow_stale=True,
        progress=None if args.json else _stage_printer(),
    )
    if result.stale:
        print("sift: warning: the index changed since these topics were computed; run `sift topics`", file=sys.stderr)
    if args.json:
        print_json(result.to_dict())
    else:
        print(describe(result))
    return 0


def _stage_printer() -> Callable[[str], None]:
    """A progress callback that prints each fitting stage to stderr."""
    names = {
        "reduce": "reducing vectors (UMAP)", "cluster": "clustering", "describe": "keywords",
        "name": "naming topics with the generator", "map": "2-D map",
    }

    def show(stage: str) -> None:
        print(f"topics: {names.get(stage, stage)}…", file=sys.stderr, flush=True)

    return show


def describe(result: IndexTopics) -> str:
    """Human-readable listing of topics: header, then id, name, size, keywords and examples.

    A topic whose name the labeler left empty says so beside its keyword label.
    """
    m = result.model
    n_topics = sum(1 for t in m.topics_ if t.id >= 0)
    how = "computed now" if result.recomputed else "saved"
    stale = ", STALE: the index has changed since" if result.stale else ""
    named = m.params.get("labeler")
    lines = [
        f"{n_topics} topics over {len(result.chunk_ids)} chunks ({result.level} level, {how}, "
        f"index generation {result.generation}{stale}); "
        f"outliers before reassignment {m.outlier_rate_:.1%}; fit {m.timings_.get('total', 0.0):.1f} s; "
        + (f"names by {named}" if named else "labels = top keywords")
    ]
    for t in m.topics_:
        note = f"  [{named} wrote no name: top keywords shown]" if t.label_source == "fallback" else ""
        lines.append(f"\n[{t.id}] {t.label}  ({t.size}){note}")
        lines.append(f"    keywords: {', '.join(t.keywords)}")
        lines += [textwrap.indent(textwrap.shorten(text, 160), "    - ") for text in t.texts]
    return "\n".join(lines)


def cmd_eval_topics(args: argparse.Namespace) -> int:
    """Embed the dataset once (cached under data/cache/embeddings), cluster it with sift and with
    BERTopic's defaults on the same vectors, and report NMI/ARI against the gold topics, outlier
    rate, number of topics and run time."""
    _check(args)
    settings = Settings.load(model=args.model)
    encoder = shared_embedder(settings.model, settings.device, settings.batch_size)
    report = evaluate_topics(
        encoder,
        dataset=args.dataset,
        seed=args.seed,
        n_topics=args.n_topics,
        min_cluster_size=args.min_cluster_size,
        bertopic=not args.no_bertopic,
    )
    if args.json:
        print_json(report)
    else:
        print(format_table(report))
    return 0
