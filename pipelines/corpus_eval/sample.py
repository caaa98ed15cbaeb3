"""Which chunks questions are written from: spread over the documents, not drawn from the longest file.

Drawing chunks uniformly would give a collection of one long manual and twenty short notes a question set
about the manual. :func:`round_robin` takes one chunk of each document per round (documents in a shuffled
order, a random unused chunk of each), so every document gets a question before any gets a second one.

Example:
    >>> round_robin([("long", 100), ("a", 1), ("b", 1)], 4, seed=0)   # doctest: +SKIP
    [('b', 0), ('long', 57), ('a', 0), ('long', 12)]
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from indexing.errors import ConfigError


def round_robin(documents: Sequence[tuple[str, int]], n: int, seed: int = 0) -> list[tuple[str, int]]:
    """Up to ``n`` ``(document id, chunk position)`` pairs, one per document per round.

    Args:
        documents: ``(document id, number of chunks)`` of every document; documents without chunks are skipped.
        n: pairs wanted (fewer when the documents hold fewer chunks).
        seed: the shuffle's seed; the same documents and seed give the same pairs.

    Returns:
        Pairs in the order they were drawn; a chunk position is ``0 … chunks - 1`` of its document.

    Raises:
        ConfigError: ``n`` below 0.

    Example:
        >>> sorted(doc for doc, _ in round_robin([("long", 100), ("a", 1), ("b", 2)], 4, seed=3))
        ['a', 'b', 'b', 'long']
    """
    if n < 0:
        raise ConfigError(f"the number of chunks to sample must be ≥ 0, got {n}")
    rng = random.Random(seed)
    order = sorted((doc, count) for doc, count in documents if count > 0)
    rng.shuffle(order)
    # Each document's chunk positions in a random order of their own: popping from it never repeats one.
    left = {doc: rng.sample(range(count), count) for doc, count in order}
    picks: list[tuple[str, int]] = []
    while len(picks) < n and any(left.values()):
        for doc, _ in order:
            if left[doc] and len(picks) < n:
                picks.append((doc, left[doc].pop()))
    return picks
