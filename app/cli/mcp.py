"""`sift mcp`: sift's tools for AI assistants over MCP on stdin/stdout (a desktop assistant starts it).

stdout carries the protocol and nothing else: while the server runs, the SDK points file descriptor 1 at
stderr and writes the protocol to a private copy of it, so a ``print``, a progress bar or a native
library's log line lands on stderr whatever writes it; sift's own logging goes to stderr as in every
command. Without ``--root`` the server offers no ``sync`` tool: it only reads the index.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from app.cli.common import add_index_option, workspace
from pipelines.generation.presets import DEFAULT_PRESET

if TYPE_CHECKING:
    from app.workspace import Workspace

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, eval_sub: argparse._SubParsersAction) -> None:
    """Add ``mcp``."""
    p = sub.add_parser("mcp", help="serve the index to AI assistants over MCP (stdio)", description=cmd_mcp.__doc__)
    add_index_option(p)
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="a folder the sync tool may index (repeatable); without one the server only reads the index")
    p.add_argument("--preset", metavar="NAME",
                   help=f"generator preset for answers (default $SIFT_GENERATOR or {DEFAULT_PRESET})")
    p.set_defaults(func=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the index over the Model Context Protocol on stdin/stdout until the client closes stdin. Tools:
    search, ask (cited answers or refusals), classify, list_documents, get_document, and sync with --root
    (only paths under the roots). Logs go to stderr. Configure an assistant with
    {"mcpServers": {"sift": {"command": "sift", "args": ["mcp", "--index", "/path/to/index"]}}}."""
    import anyio

    from app.mcp import SiftTools, build_server
    from app.roots import Roots

    ws = workspace(args)
    roots = Roots.of(args.root, option="--root")  # checked before anything loads
    tools = SiftTools(ws, roots, ws.ask_options(preset=args.preset) if args.preset else None)
    server = build_server(tools, lifespan=_lifespan(ws))
    anyio.run(server.run_stdio_async)
    return 0


def _lifespan(ws: Workspace) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """What runs around the server, while the SDK holds stdout (so nothing here reaches the protocol): the
    embedding model loads and the index opens before the first call, as in `sift serve` (a failure is logged
    and left for the tool calls to report); at the end, whatever sits in ``sys.stdout``'s buffer is flushed
    to stderr, before the SDK gives file descriptor 1 back to the protocol pipe."""
    import anyio

    from indexing.errors import SiftError

    def warm() -> None:
        if ws.exists():
            ws.embedder.warm_up(queries=True)
            ws.info()

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncIterator[None]:
        try:
            try:
                await anyio.to_thread.run_sync(warm)
            except SiftError as exc:
                log.warning("sift: %s", exc)
            yield None
        finally:
            sys.stdout.flush()

    return lifespan
