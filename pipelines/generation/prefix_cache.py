"""Keep the KV cache of a prompt prefix (e.g. the rendered system message) across llama.cpp calls.

RAG prompts all begin with the same system turn. :class:`PrefixCache` evaluates that prefix once,
keeps a snapshot of its KV cells (``llama_state_seq_get_data``), and on the next prompt that starts
with it restores the snapshot and leaves only the rest to evaluate, in one batch.

A cache hit reproduces a miss bit for bit (the prefix and the rest are always evaluated as two batches, the
rest never a single token), and only the KV cells are copied, not llama-cpp-python's whole state: why and
what was measured is in docs/decisions/decoding.md.

Example:
    >>> cache = PrefixCache()
    >>> cache.choose([1, 2, 3, 4])  # no history: nothing to reuse
    >>> cache.remember([1, 2, 3, 4])
    >>> cache.choose([1, 2, 3, 9, 9], min_tokens=2)  # the common prefix with the previous prompt
    (1, 2, 3)
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_TOKENS = 16  # a shorter shared prefix saves too little to be worth a snapshot
MIN_REST = 2  # tokens that must follow the prefix (a 1-token batch takes llama.cpp's single-token kernels)


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share: ``common_prefix_length([1, 2, 3], [1, 2, 5]) == 2``."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class PrefixSnapshot:
    """The KV cells of sequence 0 right after evaluating exactly ``tokens`` (and nothing else)."""

    tokens: tuple[int, ...]
    state: Any  # ctypes uint8 array filled by llama_state_seq_get_data

    @property
    def nbytes(self) -> int:
        """Size of the saved state in bytes."""
        return len(self.state)


class PrefixCache:
    """Chooses the prompt prefix to keep and moves its KV state in and out of a ``llama_cpp.Llama``.

    The prefix is the caller's registered one (:meth:`register`) or else found automatically: the
    cached prefix if the prompt starts with it, otherwise the longest common token prefix with the
    cached prefix (it only shrinks, so it settles on what all prompts share), otherwise with the
    previous prompt. Not thread-safe: the generator calls it under its lock.
    """

    def __init__(self, min_tokens: int = MIN_TOKENS) -> None:
        self.min_tokens = min_tokens
        self.registered: tuple[int, ...] | None = None
        self.snapshot: PrefixSnapshot | None = None
        self.last: tuple[int, ...] = ()

    def register(self, tokens: Sequence[int] | None) -> None:
        """Use exactly ``tokens`` as the prefix from now on (None: back to finding it automatically)."""
        self.registered = tuple(tokens) if tokens is not None else None
        if self.snapshot is not None and self.snapshot.tokens != self.registered:
            self.snapshot = None

    def remember(self, tokens: Sequence[int]) -> None:
        """Record the prompt just evaluated, for the automatic common-prefix search."""
        self.last = tuple(tokens)

    def choose(self, tokens: Sequence[int], min_tokens: int | None = None) -> tuple[int, ...] | None:
        """The prefix of ``tokens`` to evaluate separately and keep, or None to evaluate the prompt whole."""
        limit = len(tokens) - MIN_REST
        if self.registered is not None:
            ok = 0 < len(self.registered) <= limit and tuple(tokens[: len(self.registered)]) == self.registered
            return self.registered if ok else None
        cached = self.snapshot.tokens if self.snapshot is not None else ()
        if cached and len(cached) <= limit and tuple(tokens[: len(cached)]) == cached:
            return cached
        floor = self.min_tokens if min_tokens is None else min_tokens
        for base in (cached, self.last):
            n = min(common_prefix_length(tokens, base), limit)
            if n >= floor:
                return tuple(tokens[:n])
        return None

    def load(self, llm: Any, prefix: tuple[int, ...]) -> int:
        """Put ``prefix`` in ``llm``'s emptied KV cache: restored (returns its length) or evaluated (returns 0)."""
        import llama_cpp

        llm.reset()
        llm._ctx.kv_cache_clear()
        snap = self.snapshot
        if snap is not None and snap.tokens == prefix:
            if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, snap.state, snap.nbytes, 0) == 0:
                raise RuntimeError(f"llama.cpp refused the saved KV state of a {len(prefix)}-token prefix")
            llm.input_ids[: len(prefix)] = prefix
            llm.n_tokens = len(prefix)
            llm._requires_eval = True  # the logits in the context are not this prefix's
            return len(prefix)
        llm.eval(list(prefix))
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        state = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, state, size, 0)
        if written != size:
            raise RuntimeError(f"llama.cpp saved {written} of {size} bytes of the prefix KV state")
        self.snapshot = PrefixSnapshot(prefix, state)
        return 0
