"""`sift eval corpus`: write questions from the user's own index with the local generator, then score it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.ask import _progress
from app.cli.common import add_index_option, print_json, workspace
from app.workspace import Workspace
from indexing.errors import ConfigError, DatasetError, IndexNotFoundError
from pipelines.corpus_eval.compare import AXES, BEST_RULE, format_compare, parse_axis
from pipelines.corpus_eval.generate import Tally, attempt_cap
from pipelines.corpus_eval.questions import check_save_path, kind_of
from pipelines.corpus_eval.report import format_report
from pipelines.generation import PRESETS
from pipelines.generation.presets import DEFAULT_PRESET
from pipelines.options import AskOptions
from pipelines.rag.datasets import eval_item, load_jsonl

DEFAULT_QUESTIONS = 25


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval corpus``."""
    p = eval_sub.add_parser(
        "corpus", help="retrieval and Ask on your own index, with questions the local generator writes from it",
        description=cmd_eval_corpus.__doc__,
    )
    add_index_option(p)
    p.add_argument(
        "--questions", type=int, default=DEFAULT_QUESTIONS, metavar="N",
        help=f"questions in the set, about a fifth of them unanswerable (default {DEFAULT_QUESTIONS}: at most "
        f"{attempt_cap(DEFAULT_QUESTIONS)} generator calls to write them and {DEFAULT_QUESTIONS} to answer them, "
        "about 10 to 13 minutes with the default 1.5B generator on 2 CPU cores at ~10 s a call)",
    )
    p.add_argument("--seed", type=int, default=0, help="which chunks are sampled (default 0)")
    p.add_argument("--save", metavar="FILE", help="write the set here as it is made (JSONL); run again with the "
                   "same FILE to reuse its questions and write only the missing ones")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--generate-only", action="store_true", help="write the set (needs --save), no report")
    what.add_argument("--jsonl", metavar="FILE", help="report on this existing set; nothing is generated")
    p.add_argument("-k", type=int, default=5, help="passages given to the model when answering (default 5)")
    model = p.add_mutually_exclusive_group()
    model.add_argument("--preset", choices=sorted(PRESETS),
                       help=f"generator preset (default $SIFT_GENERATOR or {DEFAULT_PRESET})")
    model.add_argument("--model-path", metavar="PATH", help="a .gguf file or a transformers model folder")
    p.add_argument(
        "--compare", action="append", metavar="AXIS=V1,V2", default=[],
        help=f"instead of the report, score the set on variants of the index, side by side with their cost (index "
        f"seconds, query p50): each value changes one setting of the baseline (this index's settings, hybrid search, "
        f"-k); repeat for more axes. Axes: {', '.join(AXES)} (chunk_size=120,200,320  overlap=0,64  leads=on,off  "
        f"model=minilm,mpnet  mode=dense,bm25  k=3,8 with --with-ask). Each variant's index is built from this "
        f"index's files in a temporary folder, removed afterwards; a model not installed is skipped with a note. "
        f"Rule: {BEST_RULE}",
    )
    p.add_argument("--with-ask", action="store_true",
                   help="with --compare: also answer every question on every variant (slow: one generator call each)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_eval_corpus)


def cmd_eval_corpus(args: argparse.Namespace) -> int:
    """Evaluate search and Ask on your own documents. Chunks are sampled across the documents; the local
    generator writes a question and a short answer quoted from each; only questions that pass the checks are
    kept (the answer is in the chunk; the question does not copy it, names its subject instead of "the
    passage", and is no near-duplicate); about a fifth are questions the collection does not answer. The report
    gives hit@1, hit@5 and MRR@10 of the gold document for dense, bm25 and hybrid search; Ask's containment,
    gold citations, supported sentences, refusals and false refusals; and the worst questions."""
    axes = [parse_axis(text) for text in args.compare]  # a bad axis is refused before any model loads
    ws = _checked_workspace(args)
    save = Path(args.save) if args.save else None
    if save is not None:
        check_save_path(save)
    options = AskOptions(k=args.k, preset=args.preset, model_path=args.model_path)
    tally: Tally | None = None
    if args.jsonl:
        items, name = load_jsonl(Path(args.jsonl)), Path(args.jsonl).name
    else:
        rows, tally = _generate(ws, options, args.questions, args.seed, save)
        if args.generate_only:
            _print_generated(save, rows, tally, args.json)
            return 0
        items = load_jsonl(save) if save is not None else [i for i in map(eval_item, rows) if i is not None]
        name = save.name if save is not None else "generated"
    if axes:
        return _compare(ws, items, name, axes, options, args)
    report = ws.eval_report(items, name, options, progress=_progress())
    if tally is not None:
        report["generation"] = tally.to_dict()
    if args.json:
        print_json(report)
    else:
        if tally is not None:
            print(tally.line())
        print(format_report(report))
    return 0


def _compare(ws: Workspace, items: list[Any], name: str, axes: list[Any], options: AskOptions,
             args: argparse.Namespace) -> int:
    def step(label: str, number: int, total: int) -> None:
        print(f"variant {number}/{total}: {label}", file=sys.stderr)

    report = ws.eval_compare(items, name, axes, options, with_ask=args.with_ask, steps=step)
    if args.json:
        print_json(report)
    else:
        print(format_compare(report))
    return 0


def _checked_workspace(args: argparse.Namespace) -> Workspace:
    """The index to evaluate, refusing impossible requests before any model loads.

    Raises:
        ConfigError: ``--questions`` below 1, or ``--generate-only`` without ``--save``.
        IndexNotFoundError: nothing is indexed at ``--index``.
        DatasetError: the index holds no documents.
    """
    if args.questions < 1:
        raise ConfigError(f"--questions must be at least 1, got {args.questions}")
    if args.generate_only and not args.save:
        raise ConfigError("--generate-only writes the set to a file: give --save FILE")
    if args.with_ask and not args.compare:
        raise ConfigError("--with-ask goes with --compare (the report without --compare always includes Ask)")
    if args.generate_only and args.compare:
        raise ConfigError("--generate-only writes the set and reports nothing: drop --compare, or --generate-only")
    ws = workspace(args)
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: build it with `sift index PATH --index {ws.index_dir}`")
    if not ws.documents(limit=1):
        raise DatasetError(f"the index at {ws.index_dir} holds no documents: index a folder into it first")
    return ws


def _generate(ws: Workspace, options: AskOptions, n: int, seed: int,
              save: Path | None) -> tuple[list[dict[str, Any]], Tally]:
    """Write (or complete) the set with a progress bar (:meth:`Workspace.eval_questions`)."""
    from tqdm import tqdm

    bar = tqdm(total=n, desc="writing questions", unit="q", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        rows, tally = ws.eval_questions(n, seed, save, options, progress=update)
        bar.update(len(rows) - bar.n)
    finally:
        bar.close()
    return rows, tally


def _print_generated(save: Path | None, rows: list[dict[str, Any]], tally: Tally, as_json: bool) -> None:
    kinds = [kind_of(r) for r in rows]
    summary = {"set": str(save), "questions": len(rows), "answerable": kinds.count("answerable"),
               "unanswerable": kinds.count("unanswerable"), "generation": tally.to_dict()}
    if as_json:
        print_json(summary)
        return
    print(tally.line())
    print(f"{save}: {summary['questions']} questions ({summary['answerable']} answerable, "
          f"{summary['unanswerable']} unanswerable)")

