"""``sift serve``: sift's REST API and an OpenAI-compatible one over a Workspace (FastAPI + uvicorn)."""

from __future__ import annotations

from app.server.app import create_app
from app.server.state import ServerState

__all__ = ["ServerState", "create_app"]
