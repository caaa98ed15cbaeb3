"""`sift eval retrieval`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import print_json
from app.corpora import fetch_corpus
from app.settings import Settings
from app.workspace import Workspace, shared_embedder
from indexing.chunker import ChunkerConfig
from indexing.embedder import Embedder
from indexing.errors import ConfigError, IndexMismatchError, IndexNotFoundError, ModelNotAvailableError
from indexing.fetch import cache_dir
from indexing.lead import LEAD_STYLE
from indexing.models import resolve_embedding_model
from pipelines.identifiers import identifier_set
from pipelines.retrieval_data import load_beir, questions_jsonl, wiki_by_name, wiki_known_item
from pipelines.retrieval_eval import evaluate_retrieval, format_table
from pipelines.search import MODES

WIKI_TASKS = {"wiki-known-item": wiki_known_item, "wiki-by-name": wiki_by_name}
IDENTIFIERS = "identifiers"


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval retrieval``."""
    p = eval_sub.add_parser("retrieval", help="nDCG@10, MRR@10, Recall@10/100 for dense, bm25, hybrid")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--beir", metavar="DIR", help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    src.add_argument(
        "--dataset",
        choices=[*sorted(WIKI_TASKS), IDENTIFIERS],
        help="built-in task on the default corpus: find an article from its description (wiki-known-item) "
        "or from its title (wiki-by-name); or find a ticket, error code, function, host or part among "
        "look-alike notes by its identifier (identifiers: data/eval/identifiers.jsonl, indexed into a "
        "temporary index)",
    )
    src.add_argument("--jsonl", metavar="FILE",
                     help='questions naming their gold document ({"question", "answers", "source" or "title"} lines, '
                     "e.g. written by `sift eval corpus --save FILE`), scored against --index (default: "
                     "$SIFT_INDEX or data/index) as it is")
    p.add_argument("--n", type=int, default=1000, help="wiki tasks: queries to sample (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="wiki tasks: sampling seed (default 0)")
    p.add_argument(
        "--index",
        metavar="DIR",
        help="wiki tasks and --jsonl: score this existing index as it is (e.g. data/index)",
    )
    p.add_argument("--model", metavar="NAME",
                   help="embedding model (default all-MiniLM-L6-v2; with --index: the index's own, from its manifest)")
    p.add_argument("--chunk-size", type=int, metavar="N")
    p.add_argument("--mode", action="append", choices=MODES, help="modes to run (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_retrieval)


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    """Evaluate retrieval. The wiki task reuses a cached index under <data dir>/cache/eval/ (a sync: instant when
    built); ``--index DIR`` scores that index as it is, with the model and weights of its manifest; ``--jsonl FILE``
    scores the file's questions against their gold documents in ``--index``."""
    settings = Settings.load(model=args.model, chunk_size=args.chunk_size)
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    if args.index and (args.beir or args.dataset == IDENTIFIERS):
        raise ConfigError("--index scores an existing index of the wiki corpus: use it with a wiki --dataset, "
                          "not --beir or --dataset identifiers (they index their own corpus)")
    modes = args.mode or list(MODES)
    report = _questions_report(args, settings, modes) if args.jsonl else _dataset_report(args, settings, modes)
    if args.json:
        print_json(report)
    else:
        print(format_table(report))
    return 0


def _questions_report(args: argparse.Namespace, settings: Settings, modes: list[str]) -> dict[str, Any]:
    """``--jsonl FILE``: the file's questions against the index (default: the settings'), with its own model."""
    index = Path(args.index) if args.index else settings.index_dir
    embedder = index_embedder(index, settings, args.model)
    manifest = Workspace(index, settings=settings).manifest
    assert manifest is not None  # index_embedder refused a missing index
    chunking = ChunkerConfig(manifest.chunk_size, manifest.chunk_overlap)
    return evaluate_retrieval(questions_jsonl(Path(args.jsonl)), embedder, index, None, chunking, modes)


def _dataset_report(args: argparse.Namespace, settings: Settings, modes: list[str]) -> dict[str, Any]:
    """``--beir`` or ``--dataset``: index the set's corpus (or score ``--index``) and run its queries."""
    if args.index:
        embedder = index_embedder(Path(args.index), settings, args.model)
    else:
        embedder = shared_embedder(settings.model, settings.device, settings.batch_size, settings.quantize)
    chunking = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
    if args.beir:
        return evaluate_retrieval(load_beir(Path(args.beir)), embedder, chunking=chunking, modes=modes)
    if args.dataset == IDENTIFIERS:
        return evaluate_retrieval(identifier_set(), embedder, chunking=chunking, modes=modes)
    folder = fetch_corpus("wiki")
    dataset = WIKI_TASKS[args.dataset](folder / "summaries_en-us.json", n=args.n, seed=args.seed)
    if args.index:
        return evaluate_retrieval(dataset, embedder, Path(args.index), None, chunking, modes)
    weights = "" if embedder.quantize == "none" else f"-{embedder.quantize}"
    # with lead vectors of today's style (indexing.lead): an index cached with an earlier style is not reused
    name = f"wiki-{embedder.name}{weights}-{chunking.chunk_size}-leads{'' if LEAD_STYLE == 1 else LEAD_STYLE}"
    return evaluate_retrieval(dataset, embedder, cache_dir() / "eval" / name, folder, chunking, modes)


def index_embedder(index: Path, settings: Settings, model: str | None = None) -> Embedder:
    """The embedder an existing index's queries need: its manifest's model and weights (fp32 or int8).

    Args:
        index: the index directory.
        settings: device and batch size.
        model: a model the user named (``--model``); it must be the index's.

    Raises:
        IndexNotFoundError: no index at ``index``.
        IndexMismatchError: ``model`` is not the model the index was built with.

    Example:
        >>> index_embedder(Path("data/index"), Settings.load()).name         # doctest: +SKIP
        'all-MiniLM-L6-v2'
    """
    ws = Workspace(index, settings=settings)
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {index}: build it with `sift index PATH --index {index}` first")
    if model is not None and _canonical(model) != ws.model_name:
        raise IndexMismatchError(f"index {index} was built with {ws.model_name}, not {model}: leave out --model "
                                 "to evaluate it with its own model")
    return ws.embedder


def _canonical(model: str) -> str:
    """The manifest name of ``model`` (``"minilm"`` → ``"all-MiniLM-L6-v2"``); the name itself when not installed."""
    try:
        return resolve_embedding_model(model).name
    except ModelNotAvailableError:
        return model
