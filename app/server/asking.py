"""The one translation every server route that answers shares: request → AskOptions + thread → events.

``/v1/ask``, ``/v1/chat/completions``, ``/v1/completions`` (and the MCP ``ask`` tool) differ only in the
shapes they read and write; the answer itself comes from :meth:`app.workspace.Workspace.converse`, with the
server's defaults (its generator preset) and the request's overrides. Each answer holds a place in the server's
queue (:mod:`app.admission`) from before its retrieval until its events are read to the end or closed.

Example:
    >>> events = start(state, "when was the eiffel tower finished", [], AskOptions(k=3))   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from app.admission import Admitted
from app.server.state import ServerState
from indexing.errors import IndexNotFoundError, SiftError
from pipelines.options import AskOptions
from pipelines.rag.events import AskEvent


def defaults(state: ServerState) -> AskOptions:
    """The server's ask options: the Workspace's defaults with the server's generator."""
    ws = state.workspace
    return ws.ask_defaults.merged(preset=state.preset) if state.preset else ws.ask_defaults


def start(
    state: ServerState, question: str, history: Sequence[tuple[str, str]], options: AskOptions,
) -> Iterator[AskEvent]:
    """Rebuild the client's thread and start the answer: retrieval runs now, so a missing index or a bad filter
    is an error response, not a broken stream; generation runs as the events are read.

    The request first takes a place in the server's queue: refused at once past ``--max-queue``, else it waits
    here for its turn (in arrival order) and holds it until the events are exhausted or closed.

    Raises:
        IndexNotFoundError: nothing is indexed yet.
        BusyError: the queue is full (HTTP 429 with ``Retry-After``).
    """
    ws = state.workspace
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` or POST /v1/documents/sync")
    ticket = state.admission.acquire()
    try:
        ticket.wait()
        thread = ws.thread(history, options) if history else []
        return Admitted(ws.converse(thread, question, options), ticket)
    except BaseException:
        ticket.release()
        raise


def sse(data: dict[str, Any], event: str | None = None) -> str:
    """One server-sent event frame."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_frame(exc: SiftError, event: str | None = None) -> str:
    """An error met mid-stream, in the JSON error shape of every route."""
    return sse({"error": {"message": str(exc), "type": type(exc).__name__, "code": "sift_error"}}, event)
