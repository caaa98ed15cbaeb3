"""`sift eval retrieval`."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import print_json
from app.corpora import corpus_dir, fetch_corpus
from app.settings import Settings
from app.workspace import shared_embedder
from indexing.chunker import ChunkerConfig
from indexing.errors import ConfigError
from pipelines.retrieval_data import load_beir, wiki_by_name, wiki_known_item
from pipelines.retrieval_eval import evaluate_retrieval, format_table
from pipelines.search import MODES

WIKI_TASKS = {"wiki-known-item": wiki_known_item, "wiki-by-name": wiki_by_name}


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval retrieval``."""
    p = eval_sub.add_parser("retrieval", help="nDCG@10, MRR@10, Recall@10/100 for dense, bm25, hybrid")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--beir", metavar="DIR", help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    src.add_argument(
        "--dataset",
        choices=sorted(WIKI_TASKS),
        help="built-in task on the default corpus: find an article from its description (wiki-known-item) "
        "or from its title (wiki-by-name)",
    )
    p.add_argument("--n", type=int, default=1000, help="wiki tasks: queries to sample (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="wiki tasks: sampling seed (default 0)")
    p.add_argument(
        "--index",
        metavar="DIR",
        help="wiki tasks: score this existing index of the wiki corpus as it is (e.g. data/index)",
    )
    p.add_argument("--model", metavar="NAME", help="embedding model (default all-MiniLM-L6-v2)")
    p.add_argument("--chunk-size", type=int, metavar="N")
    p.add_argument("--mode", action="append", choices=MODES, help="modes to run (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_retrieval)


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    """Evaluate retrieval. The wiki task reuses a cached index under data/cache/eval/ (a sync: instant when built)."""
    settings = Settings.load(model=args.model, chunk_size=args.chunk_size)
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    embedder = shared_embedder(settings.model, settings.device, settings.batch_size)
    chunking = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
    modes = args.mode or list(MODES)
    if args.beir:
        report = evaluate_retrieval(load_beir(Path(args.beir)), embedder, chunking=chunking, modes=modes)
    else:
        folder = fetch_corpus("wiki")
        dataset = WIKI_TASKS[args.dataset](folder / "summaries_en-us.json", n=args.n, seed=args.seed)
        if args.index:
            report = evaluate_retrieval(dataset, embedder, Path(args.index), None, chunking, modes)
        else:
            name = f"wiki-{embedder.name}-{chunking.chunk_size}-leads"  # built with lead vectors (indexing.lead)
            cache = corpus_dir("wiki").parent.parent / "cache" / "eval" / name
            report = evaluate_retrieval(dataset, embedder, cache, folder, chunking, modes)
    if args.json:
        print_json(report)
    else:
        print(format_table(report))
    return 0
