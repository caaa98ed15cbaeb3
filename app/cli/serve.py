"""`sift serve`: the REST and OpenAI-compatible API over an index, optionally watching folders.

What a server may touch is what the user named: it answers only to its host names (loopback ones, the
``--host`` address, ``--allowed-host``), indexes only under its roots (``--root``, ``--watch``, the upload
folder), and takes uploads up to one limit (``--max-upload-mb``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.admission import DEFAULT_MAX_QUEUE
from app.cli.common import add_index_option, workspace
from app.ui.uploads import MAX_UPLOAD_MB  # not app.server: FastAPI loads only when a server starts

if TYPE_CHECKING:
    from app.server import ServerState
    from app.watch import Watcher
    from app.workspace import Workspace

# A failed watcher is restarted this often, after 2, 4 and 8 s; then /healthz stays 503 "degraded". The
# server keeps answering from the last index rather than stopping: a stale index that says so beats none.
WATCH_RESTARTS = 3
WATCH_RESTART_DELAY_S = 2.0


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    p = sub.add_parser("serve", help="serve the index over HTTP (REST + OpenAI-compatible API)",
                       description=cmd_serve.__doc__)
    add_index_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--watch", nargs="+", default=[], metavar="PATH",
                   help="also keep the index in sync with these folders (as `sift watch`); they are roots too")
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="a folder POST /v1/documents/sync may index (repeatable); the --watch folders and the "
                   "upload folder are roots too, any other path is refused with 403")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="another host name clients reach the server under (repeatable), e.g. nas.local; "
                   "localhost, 127.0.0.1, ::1 and the --host address are always served, other Host headers get 421")
    p.add_argument("--preset", metavar="NAME",
                   help="generator preset for answers (default $SIFT_GENERATOR or qwen2.5-1.5b)")
    p.add_argument("--upload-dir", metavar="DIR", help="where uploads are saved (default: uploads/ beside the index)")
    p.add_argument("--max-upload-mb", type=int, default=MAX_UPLOAD_MB, metavar="N",
                   help=f"largest upload accepted, per file (default {MAX_UPLOAD_MB} MB; larger ones get 413)")
    p.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE, metavar="N",
                   help=f"answers that may wait beside the one being generated (default {DEFAULT_MAX_QUEUE}); "
                   "past them /v1/ask, /v1/chat/completions, /v1/completions and MCP ask are refused at once "
                   "with 429 and Retry-After")
    p.add_argument("--mcp", action="store_true",
                   help="also serve the MCP tools (as `sift mcp`) over streamable HTTP at /mcp, behind the same checks")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the index at http://HOST:PORT: /v1/search, /v1/ask, /v1/classify, /v1/topics, /v1/documents,
    /v1/info, the OpenAI-compatible /v1/chat/completions and /v1/embeddings, /healthz; docs at /docs.
    With SIFT_API_KEY set, every route but /healthz and the docs needs 'Authorization: Bearer <key>';
    binding beyond 127.0.0.1 needs the key. Requests under another host name than the server's get 421,
    requests from web pages of other origins 403 (DNS rebinding protection); POST /v1/documents/sync
    indexes only under --root and --watch folders and the upload folder. A --watch watcher that fails is
    restarted up to 3 times; /healthz answers 503 "degraded" while it is down. Answers are generated one at
    a time, in arrival order; past --max-queue waiting ones, an ask gets 429 with Retry-After at once."""
    import uvicorn

    from app.server import create_app
    from app.server.security import check_bind

    api_key = os.environ.get("SIFT_API_KEY") or None
    check_bind(args.host, api_key)
    ws = workspace(args)
    state = server_state(args, ws, api_key)  # every option checked before a model loads or a watcher starts
    if ws.exists():
        ws.embedder.warm_up(queries=True)
        ws.info()  # opens the store now, before requests share it
    state.watcher = _start_watcher(args) if args.watch else None
    print(f"sift: serving {ws.index_dir} on http://{args.host}:{args.port} (API docs at /docs); "
          f"indexing only under {state.roots}", file=sys.stderr)
    try:
        uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")
    finally:
        if state.watcher is not None:
            state.watcher.stop()
    return 0


def server_state(args: argparse.Namespace, ws: Workspace, api_key: str | None = None) -> ServerState:
    """The state ``sift serve`` answers from: its roots, host names, upload folder and limits.

    Raises:
        ConfigError: a ``--root`` or ``--watch`` path does not exist, an ``--allowed-host`` is not a host
            name, ``--max-upload-mb`` is below 1 or ``--max-queue`` below 0.
    """
    from app.roots import Roots
    from app.server import ServerState
    from app.server.security import bind_names

    roots = Roots.of([*args.root], option="--root").including(*Roots.of(args.watch, option="--watch").paths)
    upload_dir = Path(args.upload_dir).expanduser().resolve() if args.upload_dir else None
    return ServerState(ws, api_key=api_key, preset=args.preset, max_upload_mb=args.max_upload_mb,
                       upload_dir=upload_dir, roots=roots, mcp=args.mcp, max_queue=args.max_queue,
                       allowed_hosts=(*bind_names(args.host), *args.allowed_host))


def _start_watcher(args: argparse.Namespace) -> Watcher:
    """A watcher on its own Workspace (its writes reach the server's readers as new generations)."""
    from app.watch import Watcher

    watcher = Watcher(workspace(args), [Path(p) for p in args.watch],
                      max_restarts=WATCH_RESTARTS, restart_delay_s=WATCH_RESTART_DELAY_S)
    watcher.start()
    return watcher
