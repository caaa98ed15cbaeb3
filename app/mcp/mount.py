"""``sift serve --mcp``: sift's MCP tools over streamable HTTP at ``/mcp`` of the REST server's FastAPI app.

The endpoint is one more route of the app, so the app's ``Guard`` middleware (host names, web origins, the
bearer key, the body cap) checks it like every other path; the SDK's own Host/Origin check is turned off
rather than kept as a second list that could disagree with ``--allowed-host``. The endpoint is stateless
(every POST carries its whole call and gets its whole answer as JSON, as the REST routes do, and ``ask``
takes the conversation as ``history``), and the SDK's session manager runs inside the app's lifespan,
which a mounted application's own lifespan would not.

Example:
    >>> app = create_app(ServerState(Workspace("data/index"), mcp=True))   # mounts it   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from app.mcp.server import build_server
from app.mcp.tools import SiftTools
from app.server import asking
from app.server.state import ServerState

PATH = "/mcp"


def mount(app: FastAPI, state: ServerState) -> MCPServer:
    """Serve the MCP tools over ``state`` at :data:`PATH` of ``app``; returns the MCP server.

    ``ask`` starts from the server's ask options (:func:`app.server.asking.defaults`: its generator preset),
    ``sync`` indexes only under the server's roots, exactly as ``POST /v1/documents/sync`` does.
    """
    server = build_server(SiftTools(state.workspace, state.roots, asking.defaults(state)))
    endpoint = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True, max_request_body_size=state.max_json_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),  # the Guard's job
    )
    app.router.routes.extend(endpoint.routes)  # the route itself: no /mcp -> /mcp/ redirect, no second app
    app.router.lifespan_context = _with_sessions(server, app.router.lifespan_context)
    return server


def _with_sessions(server: MCPServer, outer: Any) -> Any:
    """``outer`` (the app's lifespan) with the MCP session manager running around it."""
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with server.session_manager.run(), outer(app) as state:
            yield state

    return lifespan
