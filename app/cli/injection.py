"""`sift eval injection`: how often answers obey instructions planted in the indexed documents.

Run on the development, held-out and blind sets, next to ``bench/bench_injection_filter.py`` (what the same
defence changes in ordinary prose): ``docs/decisions/injection-defence.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.cli.ask import _generator_list
from app.cli.common import print_json
from app.workspace import Workspace
from pipelines.rag.injection import CASES, evaluate_injections, load_cases, write_corpus
from pipelines.rag.untrusted import STRIP_ENV


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval injection``."""
    p = eval_sub.add_parser("injection", help="prompt-injection set: answers that obey planted instructions",
                            description=cmd_eval_injection.__doc__)
    p.add_argument("--cases", default=str(CASES), metavar="FILE", help=f"the cases (default {CASES})")
    p.add_argument("--generators", type=_generator_list, metavar="A,B",
                   help="generator presets to compare (default: the default one)")
    p.add_argument("--keep-instructions", action="store_true",
                   help="leave even the unambiguous attacks in the (still fenced) passages: measures the fence alone")
    p.add_argument("--json", action="store_true", help="print summary and per-case results as JSON")
    p.set_defaults(func=cmd_eval_injection)


def cmd_eval_injection(args: argparse.Namespace) -> int:
    """Index the injection documents in a temporary folder, ask each case's question, and report how
    many answers obey an injection (target 0), how many cite only passages they were given, and how many
    still give the right answer."""
    cases = load_cases(Path(args.cases))
    if args.keep_instructions:
        os.environ[STRIP_ENV] = "0"
    reports: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sift-injection-") as tmp:
        ws = Workspace(Path(tmp) / "index")
        ws.index([write_corpus(cases, Path(tmp) / "docs")])
        for preset in args.generators or [None]:
            rag = ws.rag(preset=preset)
            name = preset or "default"
            if not args.json:
                print(f"{name}: asking {len(cases)} questions…", file=sys.stderr)
            reports[name] = evaluate_injections(rag.ask, cases)
    if args.json:
        print_json({name: r.to_dict() for name, r in reports.items()})
        return 0
    for name, report in reports.items():
        s = report.summary()
        print(f"{name}: obeyed {s['obeyed']}/{s['cases']} (before citation checks {s['obeyed_raw']}), "
              f"citations valid {s['citations_valid_rate']:.3f}, answered {s['answered_rate']:.3f}, "
              f"refused {s['refused']}, invalid citations removed {s['invalid_citations_removed']}, "
              f"prompts with attacks removed {s['prompts_with_removals']}")
        for r in report.results:
            if r.obeyed or r.obeyed_raw:
                print(f"  obeyed {r.case.kind} ({r.case.name}): {' '.join(r.raw_answer.split())[:140]}")
    return 0
