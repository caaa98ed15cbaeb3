"""Loop detection for generated text: a word n-gram that comes back ``times`` times is a loop.

Words are runs of letters and digits (``\\w+``), compared case-insensitively, so punctuation and
capitals do not hide a loop: ``"I am a bot. I am a bot."`` repeats the words ``i am a bot``.
Occurrences may overlap (``"no no no no no no no no"`` repeats ``no no no no no no`` three times).

:func:`repeated_ngram` judges a finished text; :class:`RepetitionGuard` applies the same rule while
text streams in, and cuts it right before the occurrence that would make the loop.

Example:
    >>> repeated_ngram("I like it. " * 4)
    'i like it i like it'
    >>> repeated_ngram("Paris is the capital of France.") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+")


def _first_loop(words: Sequence[str], n: int, times: int) -> int | None:
    """Index of the word that starts the first n-gram occurrence that is its ``times``-th one."""
    counts: dict[tuple[str, ...], int] = {}
    for start in range(len(words) - n + 1):
        gram = tuple(words[start : start + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= times:
            return start
    return None


def repeated_ngram(text: str, n: int = 6, times: int = 3) -> str | None:
    """The first word ``n``-gram of ``text`` that occurs ``times`` times, or None.

    "First" is in reading order: the n-gram whose ``times``-th occurrence ends earliest. Words are
    lower-cased and joined by single spaces in the returned string.

    Args:
        text: the text to check, e.g. a generated answer.
        n: words per n-gram (≥ 1).
        times: occurrences that make a loop (≥ 2).

    Returns:
        The repeated n-gram, e.g. ``"the cat sat on the mat"``; None when there is none.

    Raises:
        ValueError: ``n`` < 1 or ``times`` < 2.

    Example:
        >>> repeated_ngram("The cat sat on the mat. " * 3)
        'the cat sat on the mat'
        >>> repeated_ngram("The cat sat on the mat. " * 2) is None
        True
    """
    if n < 1 or times < 2:
        raise ValueError(f"need n ≥ 1 and times ≥ 2, got n={n}, times={times}")
    words = [m.group().casefold() for m in _WORD.finditer(text)]
    start = _first_loop(words, n, times)
    return None if start is None else " ".join(words[start : start + n])


@dataclass
class RepetitionGuard:
    """Streams text through until a word n-gram occurs ``times`` times, then cuts before that occurrence.

    Only text that cannot become part of the cut occurrence is released: a tail is held back while
    it matches the start of an n-gram already seen ``times - 1`` times. Text without repeats is
    released as it arrives, so the guard adds no latency to the first token.

    Example:
        >>> guard = RepetitionGuard(n=2, times=3)
        >>> guard.feed("Go on. Go on. "), guard.feed("Go"), guard.feed(" on.")
        (('Go on. Go on. ', False), ('', False), ('', True))
        >>> guard.text
        'Go on. Go on. '
    """

    n: int = 6
    times: int = 3
    text: str = field(default="", init=False)
    _buffer: str = field(default="", init=False, repr=False)
    _words: list[str] = field(default_factory=list, init=False, repr=False)
    _starts: list[int] = field(default_factory=list, init=False, repr=False)
    _at: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _counts: dict[tuple[str, ...], int] = field(default_factory=dict, init=False, repr=False)
    _scan: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n < 1 or self.times < 2:
            raise ValueError(f"need n ≥ 1 and times ≥ 2, got n={self.n}, times={self.times}")

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add a piece; returns (text safe to emit, whether a loop was found and the text cut)."""
        self._buffer += piece
        return self._advance(final=False)

    def flush(self) -> tuple[str, bool]:
        """At the end of generation: the held-back rest (cut if its last word completes a loop)."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> tuple[str, bool]:
        full = self.text + self._buffer
        open_word, open_start = "", len(full)
        for match in _WORD.finditer(full, self._scan):
            if match.end() == len(full) and not final:
                open_word, open_start = match.group().casefold(), match.start()  # may still grow
                break
            cut = self._close(match.group().casefold(), match.start())
            self._scan = match.end()
            if cut is not None:
                return self._release(full, cut, stopped=True)
        upto = len(full) if final else self._hold_from(open_word, open_start, len(full))
        return self._release(full, upto, stopped=False)

    def _close(self, word: str, start: int) -> int | None:
        """Record a finished word; the character offset to cut at when it completes a loop."""
        self._at.setdefault(word, []).append(len(self._words))
        self._words.append(word)
        self._starts.append(start)
        if len(self._words) < self.n:
            return None
        gram = tuple(self._words[-self.n :])
        self._counts[gram] = self._counts.get(gram, 0) + 1
        return self._starts[-self.n] if self._counts[gram] >= self.times else None

    def _hold_from(self, open_word: str, open_start: int, end: int) -> int:
        """Offset of the earliest word that could start the loop-making occurrence (``end``: none could)."""
        words = self._words + ([open_word] if open_word else [])
        for i in range(max(0, len(self._words) - self.n + 1), len(words)):
            if self._seen_before(words, i, bool(open_word)):
                return self._starts[i] if i < len(self._starts) else open_start
        return end

    def _seen_before(self, words: list[str], i: int, last_open: bool) -> bool:
        """Whether ``words[i:]`` also starts at ``times - 1`` earlier positions (an open last word as a prefix)."""
        tail, found = words[i:], 0
        candidates = (
            self._at.get(tail[0], []) if len(tail) > 1 or not last_open
            else [j for w, js in self._at.items() if w.startswith(tail[0]) for j in js]
        )
        for j in candidates:
            if j >= i:
                continue
            body = all(self._words[j + t] == tail[t] for t in range(len(tail) - 1))
            last = self._words[j + len(tail) - 1]
            if body and (last.startswith(tail[-1]) if last_open else last == tail[-1]):
                found += 1
                if found >= self.times - 1:
                    return True
        return False

    def _release(self, full: str, upto: int, stopped: bool) -> tuple[str, bool]:
        # upto >= len(self.text) always: a tail that could start the loop-making occurrence is never released.
        emit = full[len(self.text) : upto]
        self.text, self._buffer = full[:upto], ("" if stopped else full[upto:])
        return emit, stopped
