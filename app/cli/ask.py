"""`sift ask` and `sift eval rag`."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.cli.common import add_index_option, parse_where, print_json, workspace
from app.workspace import Workspace
from indexing.errors import ConfigError, IndexNotFoundError
from indexing.fetch import cache_dir
from pipelines.generation import PRESETS
from pipelines.generation.presets import DEFAULT_PRESET
from pipelines.options import AskOptions
from pipelines.rag import Answer, RAGPipeline
from pipelines.rag.answer import DEFAULT_PASSAGE_TOKENS, final_answer
from pipelines.rag.answer_length import ANSWER_LENGTHS, DEFAULT_ANSWER_LENGTH
from pipelines.rag.datasets import check_gold_found, load_jsonl, python_faq
from pipelines.rag.eval import evaluate
from pipelines.rag.events import AskEvent, Done, Token
from pipelines.rag.refusal import DEFAULT_FLOOR, DEFAULT_MIN_DENSE_SCORE, absent_note
from pipelines.rag.second_look import NOTES as SECOND_LOOK_NOTES
from pipelines.search import MODES


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``ask`` and ``eval rag``."""
    p = sub.add_parser("ask", help="answer a question from the index, with citations", description=cmd_ask.__doc__)
    p.add_argument("question")
    add_index_option(p)
    p.add_argument("-k", type=int, default=5, help="chunks retrieved (default 5)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="metadata filter (repeatable)")
    p.add_argument("--json", action="store_true", help="print the answer, citations and metrics as JSON")
    p.add_argument("--no-stream", action="store_true", help="print the answer when it is complete")
    _add_model_options(p)
    p.set_defaults(func=cmd_ask)

    p = eval_sub.add_parser("rag", help="gold-passage hit@k, answer F1, citations, refusals, TTFT/TPOT")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=["python-faq"],
                     help="the Python FAQ, indexed into its own cache (or into --index)")
    src.add_argument("--jsonl", metavar="FILE", help='{"question", "answers": [...]} lines, against --index')
    add_index_option(p)
    p.add_argument("-k", type=int, default=5, help="chunks given to the model (default 5)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N questions")
    p.add_argument("--gate-only", action="store_true", help="retrieval and refusal gate only (no generation)")
    p.add_argument(
        "--prompt-check", action="store_true",
        help="also pack the prompts the model was not asked for, to report gold_in_prompt and answer_in_prompt "
        "(loads the tokenizer)",
    )
    p.add_argument("--json", action="store_true", help="print summary and per-question results as JSON")
    p.add_argument(
        "--generators", metavar="A,B", type=_generator_list,
        help="compare generators in one run: comma-separated presets or .gguf paths (retrieval is shared)",
    )
    _add_model_options(p)
    p.set_defaults(func=cmd_eval_rag)


def _generator_list(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one preset or .gguf path")
    for name in names:
        if name.lower() not in PRESETS and not Path(name).expanduser().exists():
            raise argparse.ArgumentTypeError(
                f"{name!r} is neither a generator preset ({', '.join(PRESETS)}) nor an existing model path"
            )
    return names


def _add_model_options(p: argparse.ArgumentParser) -> None:
    model = p.add_mutually_exclusive_group()
    model.add_argument(
        "--preset", choices=sorted(PRESETS), help=f"generator preset (default $SIFT_GENERATOR or {DEFAULT_PRESET})"
    )
    model.add_argument("--model-path", metavar="PATH", help="a .gguf file or a transformers model folder")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (default hybrid)")
    p.add_argument("--source", metavar="GLOB", help="only passages from sources whose path matches, e.g. '*.pdf'")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1, off)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (default 0, off)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="> 1 discourages repeats (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--max-tokens", type=int, default=256, help="answer budget in tokens (default 256)")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="end the answer where the model writes TEXT (repeatable, up to 4)")
    p.add_argument("--min-score", type=float, help="always answer from this best dense cosine up (default: calibrated)")
    p.add_argument(
        "--floor", type=float, help="always refuse below this best dense cosine; between it and --min-score, answer "
        f"only when a passage holds 2/3 of the question's content words (default {DEFAULT_FLOOR}; -1: refuse "
        "everything below --min-score)",
    )
    p.add_argument(
        "--answer-length", choices=ANSWER_LENGTHS, default=DEFAULT_ANSWER_LENGTH,
        help=f"brief: one or two sentences; explain: a short paragraph; auto: explain how/why questions, "
        f"answer the others briefly (default {DEFAULT_ANSWER_LENGTH})",
    )
    p.add_argument(
        "--passage-tokens", type=int, default=DEFAULT_PASSAGE_TOKENS, metavar="N",
        help=f"most prompt tokens the passages take (default {DEFAULT_PASSAGE_TOKENS}; 0 = what the window leaves)",
    )
    p.add_argument("--verbose", action="store_true",
                   help="also print the checks' bookkeeping (citations moved or removed, the evidence score)")


def ask_options(args: argparse.Namespace, preset: str | None = None, model_path: str | None = None) -> AskOptions:
    """The :class:`AskOptions` the command line gives (the one translation of ``sift ask`` / ``sift chat`` flags).

    Raises:
        ConfigError: a flag out of range, named.
    """
    if args.passage_tokens < 0:
        raise ConfigError(f"--passage-tokens must be ≥ 0 (0 = no cap), got {args.passage_tokens}")
    chosen_preset, chosen_path = (preset, model_path) if preset or model_path else (args.preset, args.model_path)
    return AskOptions(
        k=args.k, mode=args.mode, where=parse_where(getattr(args, "where", [])), source=args.source,
        answer_length=args.answer_length, rewrite=getattr(args, "rewrite", "heuristic"),
        min_score=DEFAULT_MIN_DENSE_SCORE if args.min_score is None else args.min_score,
        floor=DEFAULT_FLOOR if args.floor is None else None if args.floor < 0 else args.floor,
        passage_tokens=args.passage_tokens or None, max_tokens=args.max_tokens, temperature=args.temperature,
        top_p=args.top_p, top_k=args.top_k, repetition_penalty=args.repetition_penalty, seed=args.seed,
        stop=tuple(args.stop), preset=chosen_preset, model_path=chosen_path,
    )


def _pipeline(
    args: argparse.Namespace, ws: Workspace, preset: str | None = None, model_path: str | None = None
) -> RAGPipeline:
    return ws.rag(ask_options(args, preset, model_path))


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer QUESTION from the indexed documents, citing passages as [n]; refuses when the index
    holds nothing close enough to the question."""
    ws = workspace(args)
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` first")
    events = ws.converse([], args.question, ask_options(args))
    if args.json:
        print_json(final_answer(events).to_dict())
        return 0
    answer = print_answer(events, stream=not args.no_stream)
    print_sources(answer, verbose=args.verbose)
    return 0


def print_answer(events: Iterable[AskEvent], stream: bool = True) -> Answer:
    """Write the answer's text to stdout (as it comes when ``stream``), once; returns the final :class:`Answer`."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, Token) and stream:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Done):
            final = event.answer
    assert final is not None  # the stream always ends with the Answer
    if not stream:
        sys.stdout.write(final.text)
    sys.stdout.write("\n")
    return final


def print_sources(answer: Answer, verbose: bool = False) -> None:
    """What stands under an answer: why it was refused, its sources by a label a reader can follow, the
    sentences no source supports; the checks' bookkeeping and timings only with ``verbose``."""
    if answer.refused and answer.refusal_reason in ("no_hits", "low_evidence"):
        print("(nothing in the indexed documents is close enough to this question to answer it)", file=sys.stderr)
    if answer.refused and answer.refusal_reason == "ungrounded":
        print("(the model's answer cited none of the passages found and none of them supports it; "
              "--verbose shows it)", file=sys.stderr)
    if answer.refused and answer.absent:
        print(f"({absent_note(answer.absent)})", file=sys.stderr)
    for c in answer.citations:
        place = f", {c.location.label}" if c.location is not None and c.location.label else ""
        print(f"[{c.number}] {c.title}  ({c.source}{place})")
    if answer.support is not None:
        for s in answer.support.unsupported:
            print(f"(not found in the sources: \"{s.sentence.strip()}\")")
    if not answer.citations and not answer.refused and answer.passages:
        print("(no passage cited; the answer was written from:)")
        for p in answer.passages:
            print(f"[{p.number}] {p.title}  ({p.source})")
    if answer.finish_reason == "length":
        print("(the answer was cut at --max-tokens)", file=sys.stderr)
    if not verbose:
        return
    if answer.refused and answer.refusal_reason == "ungrounded":
        print(f"(withheld: {answer.raw_text.strip()})", file=sys.stderr)
    if answer.second_look in SECOND_LOOK_NOTES:
        print(f"({SECOND_LOOK_NOTES[answer.second_look].rstrip('.')})", file=sys.stderr)
    if answer.invalid_citations:
        print(f"(removed {answer.invalid_citations} reference(s) to passages that do not exist)", file=sys.stderr)
    if answer.citations_moved:
        print(f"(citations of {answer.citations_moved} sentence(s) point at the passage that supports them)",
              file=sys.stderr)
    if answer.best_dense is not None:
        print(f"(best match similarity {answer.best_dense:.3f}; finish: {answer.finish_reason})", file=sys.stderr)
    if answer.metrics is not None:
        m = answer.metrics
        print(
            f"({m.prompt_tokens} prompt + {m.completion_tokens} answer tokens, TTFT {m.ttft_s:.2f}s, "
            f"{m.tokens_per_s:.1f} tok/s)",
            file=sys.stderr,
        )


def cmd_eval_rag(args: argparse.Namespace) -> int:
    """Evaluate RAG on the Python FAQ (indexed into the data cache) or on a JSONL file against --index."""
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.dataset:
        corpus, items = python_faq()
        # --index: the FAQ indexed there (e.g. to compare weights: SIFT_QUANTIZE=int8 with a fresh folder)
        ws = Workspace(Path(args.index) if args.index else cache_dir() / "python-faq" / "index")
        ws.index([corpus])
        name = "python-faq"
    else:
        items, ws, name = load_jsonl(Path(args.jsonl)), workspace(args), Path(args.jsonl).name
        if not ws.exists():
            raise IndexNotFoundError(f"no index at {ws.index_dir}: index the corpus the questions are about first")
        check_gold_found((d for item in items if item.answerable for d in item.gold_doc_ids),
                         lambda doc_id: ws.document(doc_id) is not None, name)
    items = items[: args.limit] if args.limit else items
    if not args.generators:
        report = evaluate(_pipeline(args, ws), items, dataset=name, gate_only=args.gate_only,
                          progress=_progress(), prompt_check=args.prompt_check)
        if args.json:
            print_json(report.to_dict())
        else:
            _print_summary(report.summary())
        return 0
    reports = {}
    for gen in args.generators:
        preset, path = (gen.lower(), None) if gen.lower() in PRESETS else (None, gen)
        rag = _pipeline(args, ws, preset, path)
        reports[gen] = evaluate(rag, items, dataset=name, gate_only=args.gate_only, progress=_progress(),
                                prompt_check=args.prompt_check)
    if args.json:
        print_json({"generators": {g: r.to_dict() for g, r in reports.items()}})
    else:
        _print_side_by_side({g: r.summary() for g, r in reports.items()})
    return 0


def _print_side_by_side(summaries: dict[str, dict[str, Any]]) -> None:
    names = list(summaries)
    print(f"{'':<24} " + " ".join(f"{n[:18]:>18}" for n in names))
    for key, value in summaries[names[0]].items():
        if isinstance(value, dict):
            continue
        cells = []
        for n in names:
            v = summaries[n].get(key)
            cells.append("n/a" if isinstance(v, float) and math.isnan(v) else f"{v:.3f}" if isinstance(v, float)
                         else str(v))
        print(f"{key:<24} " + " ".join(f"{c[:18]:>18}" for c in cells))


def _progress() -> Any:
    from tqdm import tqdm

    bar = tqdm(desc="questions", unit="q", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


def _print_summary(summary: dict[str, Any]) -> None:
    for key, value in summary.items():
        if isinstance(value, float):
            value = "n/a" if math.isnan(value) else f"{value:.3f}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())
        print(f"{key:<24} {value}")
