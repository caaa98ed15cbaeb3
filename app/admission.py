"""Admission control for the generator: one answer at a time per Workspace, a bounded FIFO queue beside it.

A process generates one answer at a time (the generator is shared and locked: :func:`app.analysis.shared_generator`),
so requests beyond it wait. Without a bound they pile up on the generator's lock, unordered, each holding a
server thread and a client that cannot tell whether anything will come; with one, a request past it is refused
at once with :class:`~indexing.errors.BusyError` (HTTP 429 with ``Retry-After``, a "busy" notice in the UI) and
those admitted are served in arrival order. A request that ends (answered, failed, closed, its client gone)
gives its place back.

Every front end that generates takes its ticket here: the server's ask routes (:func:`app.server.asking.start`),
the MCP ``ask`` tool and the Ask page. One gate per Workspace (:func:`admission_for`): a server or a UI process
holds one Workspace per index, so this is one queue per process and index.

Example:
    >>> gate = Admission(max_queue=1)
    >>> first, second = gate.acquire(), gate.acquire()
    >>> first.wait(0), second.wait(0), second.ahead
    (True, False, 1)
    >>> try:
    ...     gate.acquire()
    ... except BusyError as exc:
    ...     print(exc.ahead, exc.retry_after_s)
    2 10
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from indexing.errors import BusyError, ConfigError

if TYPE_CHECKING:
    from app.workspace import Workspace

# Requests that may wait beside the one being answered. Each waiting request holds a server worker thread
# (Starlette runs a route in a pool of 40) and, for the user, an answer that comes only after every one ahead:
# 8 waits at most 8 answers (a minute or two on a CPU with the default model) and leaves 31 threads for searches.
DEFAULT_MAX_QUEUE = 8
# What the retry estimate assumes an answer takes before one has been timed in this process.
FIRST_GUESS_S = 10.0
_SMOOTHING = 0.3  # weight of the latest answer's time in the running mean
T = TypeVar("T")


class Ticket:
    """One request's place in an :class:`Admission` queue; :meth:`release` (or ``with``) gives it back."""

    def __init__(self, gate: Admission) -> None:
        self._gate = gate
        self.served_at: float | None = None  # monotonic time its turn came
        self.released = False

    @property
    def served(self) -> bool:
        """True once it is this ticket's turn (and until it is released)."""
        return self.served_at is not None and not self.released

    @property
    def ahead(self) -> int:
        """Requests before this one in the queue (0 while it is served)."""
        return self._gate._ahead(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until this ticket's turn, or ``timeout`` seconds; True when served.

        Raises:
            RuntimeError: the ticket was released before its turn came.
        """
        return self._gate._wait(self, timeout)

    def release(self) -> None:
        """Leave the queue (waiting or served); idempotent, from any thread."""
        self._gate._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class Admission:
    """A FIFO queue of requests for the generator: ``running`` served at once, ``max_queue`` more waiting.

    Args:
        max_queue: requests that may wait beside those served (0: refuse whenever one is being answered).
        running: requests served at once (the generator answers one at a time).

    Raises:
        ConfigError: ``max_queue`` below 0 or ``running`` below 1.
    """

    def __init__(self, max_queue: int = DEFAULT_MAX_QUEUE, running: int = 1) -> None:
        if running < 1:
            raise ConfigError(f"running must be 1 or more, got {running}")
        self.running = running
        self.max_queue = check_max_queue(max_queue)
        self._queue: deque[Ticket] = deque()
        self._changed = threading.Condition()
        self._mean_s = FIRST_GUESS_S

    def acquire(self) -> Ticket:
        """A place at the back of the queue, served at once when there is room.

        Raises:
            BusyError: ``running + max_queue`` requests are already in; carries how many and a retry estimate.
        """
        with self._changed:
            if len(self._queue) >= self.running + self.max_queue:
                ahead, retry = len(self._queue), self._retry_after()
                raise BusyError(
                    f"busy: {ahead} requests ahead ({self.running} answering, {ahead - self.running} waiting, the "
                    f"most --max-queue allows); retry in {retry} s", ahead=ahead, retry_after_s=retry,
                )
            ticket = Ticket(self)
            self._queue.append(ticket)
            self._promote()
            return ticket

    @property
    def size(self) -> int:
        """Requests in the queue now, served and waiting."""
        with self._changed:
            return len(self._queue)

    def _retry_after(self) -> int:
        """Whole seconds until the first place is likely to free: the mean answer time less what the oldest
        served request has already taken, at least 1."""
        started = min((t.served_at for t in self._queue if t.served_at is not None), default=time.monotonic())
        return max(1, math.ceil(self._mean_s - (time.monotonic() - started)))

    def _promote(self) -> None:
        now = time.monotonic()
        for ticket in list(self._queue)[: self.running]:
            if ticket.served_at is None:
                ticket.served_at = now
        self._changed.notify_all()

    def _ahead(self, ticket: Ticket) -> int:
        with self._changed:
            if ticket not in self._queue:
                return 0
            return max(0, self._queue.index(ticket) - self.running + 1)

    def _wait(self, ticket: Ticket, timeout: float | None) -> bool:
        with self._changed:
            self._changed.wait_for(lambda: ticket.served_at is not None or ticket.released, timeout)
            if ticket.released and ticket.served_at is None:
                raise RuntimeError("this ticket was released before its turn came")
            return ticket.served

    def _release(self, ticket: Ticket) -> None:
        with self._changed:
            if ticket.released:
                return
            ticket.released = True
            self._queue.remove(ticket)
            if ticket.served_at is not None:
                took = time.monotonic() - ticket.served_at
                self._mean_s += _SMOOTHING * (took - self._mean_s)
            self._promote()


class Admitted(Generic[T]):
    """An event iterator that holds a ticket until it is exhausted, fails or is closed.

    Example:
        >>> gate = Admission(max_queue=0)
        >>> events = Admitted(iter(["a", "b"]), gate.acquire())
        >>> list(events), gate.size
        (['a', 'b'], 0)
    """

    def __init__(self, events: Iterator[T], ticket: Ticket) -> None:
        self._events = events
        self.ticket = ticket

    def __iter__(self) -> Admitted[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._events)
        except BaseException:  # the end, an error, or a cancellation: the place goes to the next request
            self.close()
            raise

    def close(self) -> None:
        """Close the events (stopping a generation) and give the place back."""
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self.ticket.release()

    def __del__(self) -> None:  # an abandoned stream still frees its place once collected
        self.ticket.release()


def check_max_queue(value: int) -> int:
    """``value`` when it is a whole number of 0 or more.

    Raises:
        ConfigError: anything else, naming ``--max-queue``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"--max-queue must be a whole number, 0 or more, got {value!r}")
    return value


_GATES: weakref.WeakKeyDictionary[Workspace, Admission] = weakref.WeakKeyDictionary()
_GATES_LOCK = threading.Lock()


def admission_for(workspace: Workspace, max_queue: int | None = None) -> Admission:
    """The gate of ``workspace``'s answers, made on first use; ``max_queue`` (the server's ``--max-queue``)
    sets its bound, None keeps it (:data:`DEFAULT_MAX_QUEUE` for a new one).

    Example:
        >>> admission_for(ws, 2) is admission_for(ws)                                  # doctest: +SKIP
        True
    """
    with _GATES_LOCK:
        gate = _GATES.get(workspace)
        if gate is None:
            gate = _GATES[workspace] = Admission(DEFAULT_MAX_QUEUE if max_queue is None else max_queue)
        elif max_queue is not None:
            gate.max_queue = check_max_queue(max_queue)
        return gate
