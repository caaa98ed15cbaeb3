"""Named points in the write path where a fault-injection run kills the process (tests and ``bench/bench_faults.py``).

``SIFT_FAULT=NAME`` kills the process with SIGKILL the first time it reaches the point ``NAME``;
``SIFT_FAULT=NAME:N`` the N-th time. Unset (always, outside fault runs), a point costs one dict lookup.

Example:
    >>> fault_point("commit.before_sql")   # nothing happens unless SIFT_FAULT names it
"""

from __future__ import annotations

import os
import signal

from indexing.env import parse_int
from indexing.errors import ConfigError

POINTS: tuple[str, ...] = (
    "sync.after_embed",  # a write group embedded, nothing of it written
    "batch.after_sql",  # rows inserted or deleted, the transaction open
    "commit.after_vectors",  # the next generation's vectors file written
    "commit.after_bm25",  # ... and its BM25 directory
    "commit.before_sql",  # the generation number updated, not committed
    "commit.after_sql",  # committed; garbage of older generations not yet collected
    "atomic.before_rename",  # a temp file written and synced, not yet renamed into place
)
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die here (SIGKILL, no clean-up) when ``SIFT_FAULT`` asks for this point and count."""
    wanted = os.environ.get("SIFT_FAULT")
    if not wanted:
        return
    point, count = wanted_fault(wanted)
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= count:
        os.kill(os.getpid(), signal.SIGKILL)


def wanted_fault(value: str) -> tuple[str, int]:
    """``SIFT_FAULT``'s point and count: ``"commit.after_sql:2"`` → ``("commit.after_sql", 2)``.

    Raises:
        ConfigError: the point is not one of :data:`POINTS` (it would never fire) or N is not a whole number ≥ 1.

    Example:
        >>> wanted_fault("batch.after_sql")
        ('batch.after_sql', 1)
    """
    point, _, count = value.strip().partition(":")
    try:
        times = parse_int(count, "SIFT_FAULT", minimum=1) if count else 1
    except ConfigError:
        times = 0
    if point not in POINTS or times < 1:
        raise ConfigError(f"SIFT_FAULT must be one of {', '.join(POINTS)}, optionally with :N (N a whole number, "
                          f"1 or more), got {value!r}")
    return point, times
