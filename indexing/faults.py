"""Named points in the write path where a fault-injection run kills the process (tests and ``bench/bench_faults.py``).

``SIFT_FAULT=NAME`` kills the process with SIGKILL the first time it reaches the point ``NAME``;
``SIFT_FAULT=NAME:N`` the N-th time. Unset (always, outside fault runs), a point costs one dict lookup.

Example:
    >>> fault_point("commit.before_sql")   # nothing happens unless SIFT_FAULT names it
"""

from __future__ import annotations

import os
import signal

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
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
