"""Server-sent events whose work stops when the client leaves.

Starlette streams a plain iterator by calling ``next`` on a worker thread, and a client that disconnects
leaves that iterator suspended until the garbage collector finalises it, on whatever thread that is. An
Ask stream holds a generation: it must end now, and on a path that never depends on which thread resumes
it. :class:`ClosingStream` runs ``next`` on a worker thread and closes the iterator as soon as the response
ends for any reason (finished, client gone, server shutting down); when a ``next`` is still running, the
thread running it closes the iterator the moment it returns (one more token at most).

Example:
    >>> response = EventStream(iter(["data: 1\\n\\n"]))     # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Send

_END = object()


class ClosingStream:
    """A sync iterator read on worker threads and closed exactly once, by whichever side finishes last.

    Args:
        iterator: a generator (anything with ``close``) of ``str`` chunks.
    """

    def __init__(self, iterator: Iterator[str]) -> None:
        self._iterator = iterator
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False

    def next(self) -> Any:
        """The next chunk, or the end marker once exhausted or closed."""
        with self._lock:
            if self._closed:
                return _END
            self._busy = True
        try:
            return next(self._iterator, _END)
        finally:
            with self._lock:
                self._busy = False
                if self._closed:
                    self._finish()

    def close(self) -> None:
        """Close the iterator now, or as soon as the ``next`` running on another thread returns."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._busy:
                self._finish()

    def _finish(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    async def chunks(self) -> AsyncIterator[str]:
        """The chunks, each read on a worker thread."""
        while True:
            chunk = await run_in_threadpool(self.next)
            if chunk is _END:
                return
            yield chunk


class EventStream(StreamingResponse):
    """``text/event-stream`` over a sync iterator of SSE frames, closed when the response ends (see module)."""

    def __init__(self, frames: Iterator[str]) -> None:
        self._source = ClosingStream(frames)
        super().__init__(self._source.chunks(), media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:  # finished, the client left (a failed send or a cancelled task), or the server stops
            self._source.close()
