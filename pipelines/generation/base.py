"""The contract every text generator meets: decoding options, results, metrics and streaming.

A generator takes a prompt that is already rendered with the model's own chat template
(:meth:`Generator.render_chat`) and returns text, either all at once (:meth:`Generator.generate`)
or piece by piece (:meth:`Generator.stream`). For greedy decoding both give the same text.

Example:
    >>> config = GenerationConfig(max_new_tokens=64, stop=["\\n\\n"])
    >>> config.greedy
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from indexing.errors import ConfigError
from pipelines.generation.repetition import RepetitionGuard, repeated_ngram

__all__ = [
    "GenerationConfig", "GenerationMetrics", "GenerationResult", "GenerationStream", "Generator", "RepetitionGuard",
    "StopFilter", "repeated_ngram", "threaded_stream", "truncate_at_stop",
]


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding options shared by every backend.

    Attributes:
        temperature: 0 means greedy decoding; above 0 samples from the softened distribution.
        top_p: nucleus sampling mass in (0, 1]; 1 disables it.
        top_k: sample among the k likeliest tokens; 0 disables it.
        repetition_penalty: > 1 discourages repeated tokens; 1 disables it. Off by default: it
            penalises numbers with a repeated digit, and loops are cut by ``stop_repeats`` instead
            (measured: ``docs/decisions/decoding.md``).
        max_new_tokens: most tokens generated (the answer budget).
        stop: strings that end generation; the stop string itself is not returned.
        seed: random seed for sampling (ignored when greedy).
        stop_repeats: end generation (finish reason ``"repetition"``) as soon as a word
            ``repeat_ngram``-gram occurs this many times, cutting the text right before that
            occurrence (see :func:`~pipelines.generation.repetition.repeated_ngram`); 0 disables it.
        repeat_ngram: words per n-gram for ``stop_repeats``.

    Raises:
        ConfigError: an option is out of range, e.g. ``GenerationConfig(top_p=0)``.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0
    stop_repeats: int = 3
    repeat_ngram: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))
        checks = [
            (self.temperature >= 0, f"temperature must be ≥ 0, got {self.temperature}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (self.top_k >= 0, f"top_k must be ≥ 0 (0 disables it), got {self.top_k}"),
            (self.repetition_penalty > 0, f"repetition_penalty must be > 0, got {self.repetition_penalty}"),
            (self.max_new_tokens >= 1, f"max_new_tokens must be ≥ 1, got {self.max_new_tokens}"),
            (self.stop_repeats == 0 or self.stop_repeats >= 2,
             f"stop_repeats must be 0 (off) or ≥ 2 occurrences, got {self.stop_repeats}"),
            (self.repeat_ngram >= 1, f"repeat_ngram must be ≥ 1 word, got {self.repeat_ngram}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def greedy(self) -> bool:
        """True when decoding always takes the likeliest token."""
        return self.temperature == 0

    def replace(self, **changes: Any) -> GenerationConfig:
        """A copy with some options changed: ``config.replace(max_new_tokens=32)``."""
        return dataclasses.replace(self, **changes)

    def repetition_guard(self) -> RepetitionGuard | None:
        """A fresh :class:`RepetitionGuard` for one generation, or None when ``stop_repeats`` is 0."""
        return RepetitionGuard(self.repeat_ngram, self.stop_repeats) if self.stop_repeats else None


@dataclass(frozen=True)
class GenerationMetrics:
    """Token counts and timings of one generation.

    Attributes:
        prompt_tokens: tokens in the prompt.
        completion_tokens: tokens generated.
        ttft_s: time to first token, from the call to the first generated token.
        tpot_s: time per output token after the first (0 when only one was generated).
        tokens_per_s: completion tokens per second of decoding after the first token.
        total_s: wall time of the whole call.
        cached_tokens: prompt tokens whose evaluation was reused from a cache, not recomputed.
    """

    prompt_tokens: int
    completion_tokens: int
    ttft_s: float
    tpot_s: float
    tokens_per_s: float
    total_s: float
    cached_tokens: int = 0

    @classmethod
    def from_times(
        cls, start: float, token_times: Sequence[float], end: float, prompt_tokens: int, cached_tokens: int = 0
    ) -> GenerationMetrics:
        """Metrics from the clock times at which each token arrived.

        Example:
            >>> GenerationMetrics.from_times(0.0, [0.5, 0.6, 0.7], 0.7, 100).tpot_s  # doctest: +ELLIPSIS
            0.09999...
        """
        n = len(token_times)
        ttft = (token_times[0] - start) if n else end - start
        decode = (token_times[-1] - token_times[0]) if n > 1 else 0.0
        tpot = decode / (n - 1) if n > 1 else 0.0
        rate = (n - 1) / decode if decode > 0 else 0.0
        return cls(prompt_tokens, n, ttft, tpot, rate, end - start, cached_tokens)

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready form with timings rounded to microseconds."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class GenerationResult:
    """The text a generator produced, why it stopped, and its metrics.

    Attributes:
        text: generated text, without the prompt and without a matched stop string.
        finish_reason: ``"stop"`` (end-of-turn token or stop string), ``"length"`` (budget used up)
            or ``"repetition"`` (a loop was cut, see ``GenerationConfig.stop_repeats``).
        metrics: token counts and timings.
    """

    text: str
    finish_reason: str
    metrics: GenerationMetrics


class GenerationStream:
    """An iterator of text pieces whose :attr:`result` is known once it is exhausted.

    A consumer that stops early calls :meth:`close` (``contextlib.closing`` does it): the generation
    behind the stream is cancelled within a token or two and the model is free for the next caller.

    Example:
        >>> stream = generator.stream(prompt, GenerationConfig())  # doctest: +SKIP
        >>> text = "".join(stream)                                  # doctest: +SKIP
        >>> stream.result.text == text                              # doctest: +SKIP
        True

    Args:
        source: yields ``str`` pieces and then exactly one :class:`GenerationResult`.
        on_close: called once by :meth:`close` (e.g. to set a cancel event a worker thread watches).
    """

    def __init__(self, source: Iterable[str | GenerationResult], on_close: Callable[[], None] | None = None) -> None:
        self._source = iter(source)
        self._result: GenerationResult | None = None
        self._on_close = on_close

    def __iter__(self) -> Iterator[str]:
        for item in self._source:
            if isinstance(item, GenerationResult):
                self._result = item
            elif item:
                yield item

    @property
    def result(self) -> GenerationResult:
        """The final result; raises ``RuntimeError`` before the stream is exhausted."""
        if self._result is None:
            raise RuntimeError("the generation stream has not been read to the end yet")
        return self._result

    def close(self) -> None:
        """Stop generating (idempotent; safe from any thread). A finished stream is left as it is."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()
        close = getattr(self._source, "close", None)
        if close is not None and self._result is None:
            with contextlib.suppress(ValueError):  # "generator already executing": its own thread ends it
                close()


def threaded_stream(produce: Callable[[threading.Event], Iterator[str | GenerationResult]]) -> GenerationStream:
    """Run ``produce(cancel)`` in its own thread and stream what it yields.

    Why: a backend that must hold a lock while it generates (one llama.cpp context, one model) cannot
    hold it across a ``yield`` to its consumer: a web server resumes a streaming generator on any worker
    thread and finalises an abandoned one on yet another, so the lock would be released by a thread that
    does not own it (or never). Here the lock is taken and released by the producer thread alone; the
    consumer only reads a queue. Closing the stream sets ``cancel``; the producer checks it after every
    piece and stops, releasing what it holds.

    Args:
        produce: a generator function taking the cancel event, yielding pieces then one result.

    Example:
        >>> def produce(cancel):
        ...     yield "a"; yield "b"; yield GenerationResult("ab", "stop", GenerationMetrics(1, 2, 0, 0, 0, 0))
        >>> "".join(threaded_stream(produce))
        'ab'
    """
    cancel = threading.Event()
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=256)

    def put(kind: str, value: Any) -> bool:
        while not cancel.is_set():
            try:
                items.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = produce(cancel)
        try:
            for item in source:
                if cancel.is_set() or not put("item", item):
                    break
        except BaseException as exc:  # handed to the consumer's thread
            put("error", exc)
        finally:
            source.close()  # in this thread: the producer's locks are released by their owner
            put("end", None)

    def consume() -> Iterator[str | GenerationResult]:
        while True:
            try:
                kind, value = items.get(timeout=0.1)
            except queue.Empty:
                if cancel.is_set():
                    return
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    threading.Thread(target=work, name="sift-generate", daemon=True).start()
    return GenerationStream(consume(), on_close=cancel.set)


@runtime_checkable
class Generator(Protocol):
    """What the RAG pipeline needs from a language model backend."""

    name: str

    @property
    def context_length(self) -> int:
        """Most tokens (prompt + answer) the model attends to."""
        ...

    def warm_up(self) -> None:
        """Load the model now (idempotent)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model's tokenizer makes of ``text`` (special-token strings parsed as such)."""
        ...

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """Render ``[{"role": ..., "content": ...}]`` with the model's own chat template, ready to answer."""
        ...

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        """Generate a completion of ``prompt`` in one call."""
        ...

    def stream(self, prompt: str, config: GenerationConfig) -> GenerationStream:
        """Generate a completion of ``prompt`` piece by piece."""
        ...


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string.

    Example:
        >>> truncate_at_stop("yes.\\nUser: hi", ["\\nUser:"])
        ('yes.', True)
    """
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@dataclass
class StopFilter:
    """Streams text through, holding back what could be the start of a stop string.

    Example:
        >>> f = StopFilter(["</s>"])
        >>> f.feed("Hi</"), f.feed("s> more")
        (('Hi', False), ('', True))
    """

    stops: Sequence[str]
    _buffer: str = field(default="", repr=False)

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add a piece; returns (text safe to emit, whether a stop string was reached)."""
        self._buffer += piece
        text, stopped = truncate_at_stop(self._buffer, self.stops)
        if stopped:
            self._buffer = ""
            return text, True
        hold = max((n for s in self.stops for n in range(1, len(s)) if self._buffer.endswith(s[:n])), default=0)
        emit, self._buffer = self._buffer[: len(self._buffer) - hold], self._buffer[len(self._buffer) - hold :]
        return emit, False

    def flush(self) -> str:
        """Whatever is still held back at the end of generation."""
        rest, self._buffer = self._buffer, ""
        return rest
