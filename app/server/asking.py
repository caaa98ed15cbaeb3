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
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import anyio.from_thread
from starlette.requests import Request

from app.admission import Admitted, Ticket
from app.server.state import ServerState
from indexing.errors import IndexNotFoundError, SiftError
from pipelines.options import AskOptions
from pipelines.rag.answer import Answer, final_answer
from pipelines.rag.events import AskEvent

# How often a request waiting in the queue looks whether its client is still there.
POLL_S = 0.25


class ClientLeft(Exception):  # noqa: N818 - an event, not an error: nobody is left to answer
    """The client closed its connection while its request waited for a turn; nothing was generated."""


def client_left(request: Request) -> Callable[[], bool]:
    """A check, callable from the route's worker thread, of whether ``request``'s client has closed its
    connection (False where there is no event loop to ask: a route called directly)."""

    def left() -> bool:
        try:
            return bool(anyio.from_thread.run(request.is_disconnected))
        except RuntimeError:
            return False

    return left


def await_turn(ticket: Ticket, left: Callable[[], bool] | None = None) -> None:
    """Block until ``ticket``'s turn; with ``left``, look every :data:`POLL_S` s whether the client has gone.

    Raises:
        ClientLeft: the client went first; the caller gives the place back (``release``).
    """
    while not ticket.wait(POLL_S if left is not None else None):
        if left is not None and left():
            raise ClientLeft("the client closed its connection while its request waited in the queue")


def whole(events: Iterator[AskEvent], left: Callable[[], bool]) -> Answer:
    """The answer of a request that is not streamed, generated in the route's thread while ``left`` is asked
    every :data:`POLL_S` s between events: a client that gives up (an HTTP timeout) stops the generation and
    frees the model for the next request, as a streaming client that leaves does.

    Raises:
        ClientLeft: the client went before the answer was done; the events are closed.
    """

    def watched() -> Iterator[AskEvent]:
        checked = time.monotonic()
        try:
            for event in events:
                yield event
                if time.monotonic() - checked >= POLL_S:
                    checked = time.monotonic()
                    if left():
                        raise ClientLeft("the client closed its connection while its answer was generated")
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    return final_answer(watched())


def defaults(state: ServerState) -> AskOptions:
    """The server's ask options: the Workspace's defaults with the server's generator."""
    ws = state.workspace
    return ws.ask_defaults.merged(preset=state.preset) if state.preset else ws.ask_defaults


def start(
    state: ServerState, question: str, history: Sequence[tuple[str, str]], options: AskOptions,
    left: Callable[[], bool] | None = None,
) -> Iterator[AskEvent]:
    """Rebuild the client's thread and start the answer: retrieval runs now, so a missing index or a bad filter
    is an error response, not a broken stream; generation runs as the events are read.

    The request first takes a place in the server's queue: refused at once past ``--max-queue``, else it waits
    here for its turn (in arrival order) and holds it until the events are exhausted or closed. ``left``
    (:func:`client_left`) is asked every :data:`POLL_S` seconds of the wait: a client that has gone gives its
    place back at once, so the requests behind it move up and a new one is not refused for it.

    Raises:
        IndexNotFoundError: nothing is indexed yet.
        BusyError: the queue is full (HTTP 429 with ``Retry-After``).
        ClientLeft: ``left`` said the client had gone before the request's turn came.
    """
    ws = state.workspace
    if not ws.exists():
        raise IndexNotFoundError(f"no index at {ws.index_dir}: run `sift index PATH` or POST /v1/documents/sync")
    ticket = state.admission.acquire()
    try:
        await_turn(ticket, left)
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
