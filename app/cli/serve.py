"""`sift serve`: the REST and OpenAI-compatible API over an index, optionally watching folders."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli.common import add_index_option, workspace
from app.ui.uploads import MAX_UPLOAD_MB  # not app.server: FastAPI loads only when a server starts


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    p = sub.add_parser("serve", help="serve the index over HTTP (REST + OpenAI-compatible API)",
                       description=cmd_serve.__doc__)
    add_index_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--watch", nargs="+", default=[], metavar="PATH",
                   help="also keep the index in sync with these folders (as `sift watch`)")
    p.add_argument("--preset", metavar="NAME",
                   help="generator preset for answers (default $SIFT_GENERATOR or qwen2.5-1.5b)")
    p.add_argument("--upload-dir", metavar="DIR", help="where uploads are saved (default: uploads/ beside the index)")
    p.add_argument("--max-upload-mb", type=int, default=MAX_UPLOAD_MB, metavar="N",
                   help=f"largest upload accepted (default {MAX_UPLOAD_MB} MB)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the index at http://HOST:PORT: /v1/search, /v1/ask, /v1/classify, /v1/topics, /v1/documents,
    /v1/info, the OpenAI-compatible /v1/chat/completions and /v1/embeddings, /healthz; docs at /docs.
    With SIFT_API_KEY set, every route but /healthz and the docs needs 'Authorization: Bearer <key>';
    binding beyond 127.0.0.1 needs the key."""
    import uvicorn

    from app.server import ServerState, create_app
    from app.server.security import check_bind

    api_key = os.environ.get("SIFT_API_KEY") or None
    check_bind(args.host, api_key)
    ws = workspace(args)
    if ws.exists():
        ws.embedder.warm_up(queries=True)
        ws.info()  # opens the store now, before requests share it
    state = ServerState(ws, api_key=api_key, preset=args.preset, max_upload_mb=args.max_upload_mb,
                        upload_dir=Path(args.upload_dir).expanduser().resolve() if args.upload_dir else None)
    watcher = _start_watcher(args) if args.watch else None
    print(f"sift: serving {ws.index_dir} on http://{args.host}:{args.port} (API docs at /docs)", file=sys.stderr)
    try:
        uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")
    finally:
        if watcher is not None:
            watcher.stop()
    return 0


def _start_watcher(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """A watcher on its own Workspace (its writes reach the server's readers as new generations)."""
    from app.watch import Watcher

    watcher = Watcher(workspace(args), [Path(p) for p in args.watch])
    watcher.start()
    return watcher
