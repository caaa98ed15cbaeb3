"""When segments merge, and how: a tiered policy (Lucene's TieredMergePolicy, simplified) and the merge itself.

Every write adds one segment, so an index written in many small batches would end up searching hundreds of
segments. After each write the policy looks at the segments' live sizes in tiers of powers of ten (below
``FLOOR_ROWS`` everything is one tier): once a tier holds ``MERGE_FACTOR`` segments, the smallest
``MERGE_FACTOR`` of it merge into one segment of the next tier. Each vector is so rewritten about once per
tier it climbs (log10 of the index size), never once per write, and a write never rewrites the big segments
below it. A merge drops the tombstoned rows of the segments it reads, so deleted rows are purged as the index
grows; ``sift optimize`` merges everything into one segment at once.

Example:
    >>> small = [(f"seg-{n:06d}", 500) for n in range(2, 11)]
    >>> chosen = plan([("seg-000000", 1_000_000), ("seg-000001", 900)] + small)
    >>> len(chosen), chosen[-1], "seg-000000" in chosen
    (10, 'seg-000001', False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexing.faults import fault_point
from indexing.store import vectors as vec
from indexing.store.generation import Generation
from indexing.store.lexical import LexicalSegment
from indexing.store.segment import Segment, segment_dirs
from indexing.store.segment_vectors import VectorSegment, choose_kind

MERGE_FACTOR = 10  # segments per tier before they merge (Lucene's segmentsPerTier default)
FLOOR_ROWS = 1_000  # segments below this many live vectors count as one tier


def tier(rows: int) -> int:
    """The tier of a segment with ``rows`` live vectors: floor(log10), with everything small in one tier.

    Example:
        >>> [tier(n) for n in (1, 999, 1_000, 25_000, 1_000_000)]
        [3, 3, 3, 4, 6]
    """
    return int(math.floor(math.log10(max(rows, FLOOR_ROWS))))


def plan(live_rows: Sequence[tuple[str, int]]) -> list[str]:
    """Names of the segments to merge now, smallest first; [] when no tier is full.

    Args:
        live_rows: (segment name, live vector rows) of every segment of the generation.
    """
    by_tier: dict[int, list[tuple[int, str]]] = {}
    for name, rows in live_rows:
        by_tier.setdefault(tier(rows), []).append((rows, name))
    for level in sorted(by_tier):
        members = sorted(by_tier[level])
        if len(members) >= MERGE_FACTOR:
            return [name for _, name in members[:MERGE_FACTOR]]
    return []


def live_rows(generation: Generation) -> list[tuple[str, int]]:
    """(name, live vector rows) of each segment."""
    return [(s.name, s.vectors.rows - len(generation.dead.get(s.name, ()))) for s in generation.segments]


def merge(generation: Generation, names: Sequence[str], index_dir: Path, new_name: str, policy: str) -> Segment:
    """Write the segments ``names`` of ``generation`` as one new segment without their tombstoned rows.

    Args:
        generation: where the segments and their tombstones come from.
        names: the segments to merge.
        index_dir: the index directory the new segment is written in.
        new_name: the new segment's name.
        policy: the manifest's vector index policy (the merged size may call for another kind).

    Returns:
        The new segment, already on disk (not yet committed: the caller records it in the database).
    """
    parts = [s for s in generation.segments if s.name in set(names)]
    drops = [generation.dead[s.name] for s in parts if s.name in generation.dead]
    drop = np.unique(np.concatenate(drops)) if drops else None
    rows = sum(s.vectors.rows for s in parts) - (0 if drop is None else len(drop))
    vectors = VectorSegment.merge([s.vectors for s in parts], drop, choose_kind(policy, rows))
    chunk_drop = None if drop is None else drop[drop < vec.LEAD_ID_OFFSET]
    lexical = LexicalSegment.merge([s.lexical for s in parts], chunk_drop)
    return write_segment(index_dir, new_name, vectors, lexical)


def write_segment(index_dir: Path, name: str, vectors: VectorSegment, lexical: LexicalSegment) -> Segment:
    """Save a segment's two directories (crash-safe each; committed only when the database lists it)."""
    vec_dir, bm25_dir = segment_dirs(index_dir, name)
    vectors.save(vec_dir)
    fault_point("commit.after_vectors")
    lexical.save(bm25_dir)
    fault_point("commit.after_bm25")
    return Segment(name, vectors, lexical)
