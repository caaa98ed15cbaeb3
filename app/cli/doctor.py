"""`sift doctor`: check an index for damage and repair what can be rebuilt; `sift optimize`: merge its segments."""

from __future__ import annotations

import argparse

from app.cli.common import add_index_option, print_json, workspace
from indexing.manifest import VECTOR_INDEXES


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``doctor``."""
    p = sub.add_parser("doctor", help="check an index for damage; --repair rebuilds what can be rebuilt",
                       description=cmd_doctor.__doc__)
    add_index_option(p)
    p.add_argument("--repair", action="store_true",
                   help="rebuild BM25 from the stored texts, re-embed chunks whose vectors are gone, drop orphans")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("optimize", help="merge the index's segments into one (drops deleted rows); convert its "
                       "vector index", description=cmd_optimize.__doc__)
    add_index_option(p)
    p.add_argument("--vector-index", choices=VECTOR_INDEXES, metavar="KIND",
                   help="convert to flat, hnsw, ivf-pq or auto (recorded in the manifest; default: keep)")
    p.add_argument("--json", action="store_true", help="print the segments before and after as JSON")
    p.set_defaults(func=cmd_optimize)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check that the manifest reads, SQLite is intact, the committed generation's files exist, FAISS ids
    equal the chunk rows and BM25 matches them. Exit 0 when the index is healthy (after --repair: when
    the repair left it healthy), 1 when damage remains."""
    report = workspace(args).doctor(repair=args.repair)
    if args.json:
        print_json(report.to_dict())
        return 0 if report.healthy else 1
    found = report.before
    print(f"index {found.index_dir}: generation {found.generation}, {found.chunks} chunks")
    for note in found.notes:
        print(f"note: {note}")
    if found.healthy and not report.repaired:
        print("healthy: no problems found")
        return 0
    for problem in found.problems:
        fix = "repairable" if problem.repairable else "not repairable here"
        print(f"problem: {problem.message} ({fix})")
    for action in report.repaired:
        print(f"repaired: {action}")
    if report.after is not None:
        for problem in report.after.problems:
            print(f"still wrong: {problem.message}")
        print("healthy after repair" if report.after.healthy else "damage remains")
    elif not args.repair:
        print("run again with --repair to fix what can be fixed")
    return 0 if report.healthy else 1


def cmd_optimize(args: argparse.Namespace) -> int:
    """Merge every segment of the index into one, without the rows deleted since they were written, and build
    it as the index's vector index (or the one --vector-index names). Searches keep working meanwhile."""
    result = workspace(args).optimize(vector_index=args.vector_index)
    if args.json:
        print_json(result)
        return 0

    def describe(segments: list[dict]) -> str:  # type: ignore[type-arg]
        kinds = sorted({s["kind"] for s in segments})
        rows = sum(s["vectors"] - s["deleted"] for s in segments)
        deleted = sum(s["deleted"] for s in segments)
        return f"{len(segments)} segment(s) ({', '.join(kinds) or 'empty'}), {rows} vectors, {deleted} deleted"

    print(f"before: {describe(result['before'])}")
    print(f"after:  {describe(result['after'])} in {result['seconds']:.1f} s (vector index {result['vector_index']})")
    return 0
