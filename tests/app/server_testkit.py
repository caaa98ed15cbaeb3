"""A real sift server for tests: uvicorn on a free localhost port, in a thread, over a tiny index."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.roots import Roots
from app.server import ServerState, create_app
from app.workspace import Workspace


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running server: its base URL and the state its routes use."""

    url: str
    state: ServerState

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        """An httpx client of the server; ``headers`` are sent with every request (``Host="evil.example"``
        forges the host name, ``Origin="http://evil.example"`` a web page's fetch)."""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


@contextmanager
def live_server(state: ServerState) -> Iterator[LiveServer]:
    """Serve ``state`` until the block ends (uvicorn's own loop in a daemon thread)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", state)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def rooted_state(ws: Workspace, *roots: Path, **options: Any) -> ServerState:
    """A server state that may index under ``roots`` (and its upload folder); ``options`` as ServerState's."""
    return ServerState(ws, roots=Roots.of(roots), **options)


def built_workspace(index_dir: Path, docs: Path) -> Workspace:
    """A Workspace over ``docs`` indexed at ``index_dir`` (64-token chunks, as the CLI tests use)."""
    ws = Workspace(index_dir)
    ws.index([docs], chunk_size=64)
    return ws
