"""Keep the KV cache of a prompt prefix (the rendered system turn) across llama.cpp calls.

RAG prompts all begin with the same system turn. :class:`PrefixCache` evaluates that prefix once,
keeps a snapshot of its KV cells (``llama_state_seq_get_data``), and on the next prompt that starts
with it restores the snapshot and leaves only the rest to evaluate, in one batch.

Where a prompt is split is a function of the prompt alone: right after its first end-of-turn token (the
system turn's end), or a prefix the caller registered. An earlier version split at the longest prefix shared
with the cached one or the previous prompt; the split then moved with what had been asked before (after a
how/why question, whose system turn differs, it settled mid-sentence), the logits moved with it, and a greedy
answer could change between near-ties: the same question over the same passages was refused in one run
and answered in another. Now a hit reproduces a miss bit for bit (the prefix and the rest are always
evaluated as two batches, the rest never a single token), so a question gets the same text whatever came
before it. A few snapshots are kept (one per system turn in use), and only the KV cells are copied, not
llama-cpp-python's whole state: why and what was measured is in docs/decisions/decoding.md.

Example:
    >>> cache = PrefixCache(turn_end={0}, min_tokens=2)
    >>> cache.choose([5, 6, 7, 0, 1, 2, 3])  # the system turn [5, 6, 7] ends at the first 0
    (5, 6, 7, 0)
    >>> cache.choose([1, 2, 3, 4]) is None  # no turn end: evaluated whole
    True
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_TOKENS = 16  # a shorter shared prefix saves too little to be worth a snapshot
KEEP = 4  # snapshots kept: a system turn each (short and explaining answers, a classifier, …)
MIN_REST = 2  # tokens that must follow the prefix (a 1-token batch takes llama.cpp's single-token kernels)


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

    The prefix is the caller's registered one (:meth:`register`) or else the prompt up to and including
    its first end-of-turn token (``turn_end``: the chat template's token ids that close a turn), when that
    is at least ``min_tokens`` long. Prompts with neither are evaluated whole. Not thread-safe: the
    generator calls it under its lock.

    Args:
        turn_end: token ids that end a chat turn (e.g. ``<|im_end|>``'s); empty: only a registered prefix.
        min_tokens: the shortest prefix worth a snapshot.
        keep: snapshots kept, most recently used first (one per system turn in use).
    """

    def __init__(self, turn_end: Iterable[int] = (), min_tokens: int = MIN_TOKENS, keep: int = KEEP) -> None:
        self.turn_end = frozenset(turn_end)
        self.min_tokens = min_tokens
        self.keep = keep
        self.registered: tuple[int, ...] | None = None
        self.snapshots: list[PrefixSnapshot] = []
        self.last: tuple[int, ...] = ()

    def register(self, tokens: Sequence[int] | None) -> None:
        """Use exactly ``tokens`` as the prefix from now on (None: back to the prompt's first turn)."""
        self.registered = tuple(tokens) if tokens is not None else None

    def remember(self, tokens: Sequence[int]) -> None:
        """Record the prompt just evaluated (:attr:`last`)."""
        self.last = tuple(tokens)

    def choose(self, tokens: Sequence[int]) -> tuple[int, ...] | None:
        """The prefix of ``tokens`` to evaluate separately and keep, or None to evaluate the prompt whole."""
        limit = len(tokens) - MIN_REST
        if self.registered is not None:
            ok = 0 < len(self.registered) <= limit and tuple(tokens[: len(self.registered)]) == self.registered
            return self.registered if ok else None
        end = next((i + 1 for i, t in enumerate(tokens[:limit]) if t in self.turn_end), 0)
        return tuple(tokens[:end]) if end >= self.min_tokens else None

    def load(self, llm: Any, prefix: tuple[int, ...]) -> int:
        """Put ``prefix`` in ``llm``'s emptied KV cache: restored (returns its length) or evaluated (returns 0)."""
        import llama_cpp

        llm.reset()
        llm._ctx.kv_cache_clear()
        snap = next((x for x in self.snapshots if x.tokens == prefix), None)
        if snap is not None:
            self.snapshots.remove(snap)
            self.snapshots.insert(0, snap)
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
        self.snapshots = [PrefixSnapshot(prefix, state), *self.snapshots][: self.keep]
        return 0
