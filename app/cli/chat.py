"""`sift chat` (a conversation on stdin) and `sift eval followups` (follow-up retrieval with and without rewriting)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from app.cli.ask import _add_model_options, _pipeline, _progress, ask_options, print_answer, print_sources
from app.cli.common import add_index_option, print_json, workspace
from app.workspace import Workspace
from indexing.errors import ConfigError, IndexNotFoundError, SiftError
from pipelines.options import AskOptions
from pipelines.rag.conversation import REWRITE_MODES, Exchange, GeneratorRewriter, HeuristicRewriter
from pipelines.rag.events import AskEvent, Retrieved
from pipelines.rag.followups import evaluate_followups, load_followups

FOLLOWUPS = Path("data/eval/followups_wiki.jsonl")
PROMPT = "> "


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``chat`` and ``eval followups``."""
    p = sub.add_parser("chat", help="a conversation: follow-up questions over the index", description=cmd_chat.__doc__)
    add_index_option(p)
    p.add_argument("--rewrite", choices=REWRITE_MODES, default="heuristic",
                   help="how follow-ups are made standalone for retrieval (default heuristic)")
    p.add_argument("-k", type=int, default=5, help="chunks retrieved (default 5)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="metadata filter (repeatable)")
    _add_model_options(p)
    p.set_defaults(func=cmd_chat)

    p = eval_sub.add_parser("followups", help="follow-up retrieval hit@1/hit@5 as typed and rewritten",
                            description=cmd_eval_followups.__doc__)
    add_index_option(p)
    p.add_argument("--jsonl", metavar="FILE", default=str(FOLLOWUPS), help=f"conversations (default {FOLLOWUPS})")
    p.add_argument("--rewrite", choices=("heuristic", "generator"), default="heuristic",
                   help="generator: also rewrite with the generator (slow)")
    p.add_argument("-k", type=int, default=5, help="chunks retrieved per query (default 5)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N conversations")
    p.add_argument("--json", action="store_true", help="print summary and per-conversation queries as JSON")
    _add_model_options(p)
    p.set_defaults(func=cmd_eval_followups)


def cmd_chat(args: argparse.Namespace) -> int:
    """Answer questions read from stdin, one per line, as one conversation: follow-ups ("when did he die?")
    are rewritten to stand alone for retrieval and answered with the earlier turns in the prompt.
    /reset starts a new conversation, /quit (or end of input) ends."""
    ws = workspace(args)
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` first")
    return repl(ws, ask_options(args), sys.stdin, verbose=args.verbose)


def repl(ws: Workspace, options: AskOptions, lines: TextIO, verbose: bool = False) -> int:
    """Read questions until EOF or /quit; a :class:`SiftError` prints one line and the loop goes on."""
    interactive = lines.isatty()
    thread: list[Exchange] = []
    while True:
        if interactive:
            print(PROMPT, end="", file=sys.stderr, flush=True)
        line = lines.readline()
        if not line:
            return 0
        question = line.strip()
        if not question:
            continue
        if question == "/quit":
            return 0
        if question == "/reset":
            thread.clear()
            print("(new conversation)")
            continue
        try:
            _answer(ws.converse(thread, question, options), question, verbose)
        except SiftError as exc:
            print(f"sift: error: {exc}", file=sys.stderr)


def _answer(events: Iterator[AskEvent], question: str, verbose: bool) -> None:
    def shown() -> Iterator[AskEvent]:
        for event in events:
            if isinstance(event, Retrieved) and event.query.strip() != question.strip():
                print(f"(searched for: {event.query})")
            yield event

    print_sources(print_answer(shown()), verbose=verbose)
    print()


def cmd_eval_followups(args: argparse.Namespace) -> int:
    """Retrieve the follow-up of each two-turn conversation as typed, rewritten by the heuristic and (with
    --rewrite generator) by the generator; report hit@1/hit@5 of its gold title, and the first turn's hit@5."""
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    items = load_followups(Path(args.jsonl))[: args.limit]
    ws = workspace(args)
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: index the corpus the conversations are about first")
    rewriters: dict[str, Any] = {"heuristic": HeuristicRewriter()}
    if args.rewrite == "generator":
        rewriters["generator"] = GeneratorRewriter(_pipeline(args, ws).generator)
    report = evaluate_followups(ws, items, rewriters, k=args.k, mode=args.mode, progress=_progress())
    summary = report.summary()
    if "generator" in rewriters:
        summary["generator"]["fallbacks"] = rewriters["generator"].fallbacks
    if args.json:
        print_json({"summary": summary, "rows": report.rows})
    else:
        _print_table(summary)
    return 0


def _print_table(summary: dict[str, Any]) -> None:
    def cell(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.3f}"

    print(f"conversations            {summary['conversations']}")
    print(f"first turn hit@5         {cell(summary['first_turn_hit@5'])}  (ceiling)")
    print(f"{'follow-up retrieved':<24} {'hit@1':>6} {'hit@5':>6} {'rewritten':>10}")
    for name in ("as_is", "heuristic", "generator"):
        if name in summary:
            row = summary[name]
            print(f"{name:<24} {cell(row['hit@1']):>6} {cell(row['hit@5']):>6} {row['rewritten']:>10}")
