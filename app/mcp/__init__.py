"""sift over the Model Context Protocol: its search, ask, classify and document tools for AI assistants.

``sift mcp`` serves them over stdio (a desktop assistant starts it), ``sift serve --mcp`` over streamable
HTTP at ``/mcp`` behind the REST server's host, origin and key checks. Each tool translates into the
Workspace's options and verbs (:mod:`app.mcp.tools`); :mod:`app.mcp.server` registers them on the official
SDK's ``MCPServer``; :mod:`app.mcp.mount` adds the HTTP endpoint to the FastAPI app.
"""

from __future__ import annotations

from app.mcp.server import build_server
from app.mcp.tools import SiftTools

__all__ = ["SiftTools", "build_server"]
