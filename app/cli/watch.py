"""`sift watch PATH...`: keep the index a live mirror of folders until Ctrl-C."""

from __future__ import annotations

import argparse
import json

from app.cli.common import add_index_option, workspace
from app.watch import WatchBatch, Watcher


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``watch``."""
    p = sub.add_parser(
        "watch", help="keep the index in sync with folders as files change", description=cmd_watch.__doc__
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_index_option(p)
    p.add_argument(
        "--debounce", type=int, default=500, metavar="MS",
        help="longest time one batch gathers file events before it is applied (default 500)",
    )
    p.add_argument("--json", action="store_true", help="print each batch as one line of JSON")
    p.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    """Sync PATHs into the index (unchanged files skipped), then apply every file created, changed,
    renamed or deleted under them, one line per batch, until Ctrl-C. Hidden files and files no loader
    reads are ignored, as `sift index` ignores them."""
    def show(batch: WatchBatch) -> None:
        line = json.dumps(batch.to_dict(), sort_keys=True, ensure_ascii=False) if args.json else batch.summary()
        print(line, flush=True)  # flushed: the output is a live log, often piped

    watcher = Watcher(workspace(args), args.paths, debounce_ms=args.debounce, on_sync=show)
    try:
        watcher.run()
    except KeyboardInterrupt:  # every index write is atomic: stopping between or inside batches is safe
        pass
    print(json.dumps({"stopped": True}) if args.json else "stopped", flush=True)
    return 0
