"""The options of the query verbs: one frozen, validated, serialisable object per verb.

Every front end (CLI flags, the Ask and Classify pages' controls, REST and OpenAI request fields, MCP tool inputs)
translates what it was given into :class:`SearchOptions`, :class:`AskOptions` or :class:`ClassifyOptions` and hands
that to the Workspace; none of them assembles a pipeline of its own. A Workspace holds defaults; a call overrides some
fields (:meth:`AskOptions.merged`). Unknown names and out-of-range values are refused with the name.

Example:
    >>> opts = AskOptions(k=3).merged(temperature=0.2, answer_length="explain")
    >>> opts.k, opts.generation().temperature, opts.to_dict()["answer_length"]
    (3, 0.2, 'explain')
    >>> AskOptions.from_dict({"k": 3, "colour": "red"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    indexing.errors.ConfigError: unknown ask option 'colour': known options are answer_length, floor, k, ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from indexing.errors import ConfigError
from pipelines.generation.base import GenerationConfig
from pipelines.rag.answer import DEFAULT_PASSAGE_TOKENS
from pipelines.rag.answer_length import ANSWER_LENGTHS, DEFAULT_ANSWER_LENGTH
from pipelines.rag.refusal import DEFAULT_FLOOR, DEFAULT_MIN_DENSE_SCORE, RefusalPolicy
from pipelines.rag.rewrite import REWRITE_MODES
from pipelines.search import MODES

MAX_K = 1000

_Options = TypeVar("_Options", bound="_Serialisable")


def _choice(value: Any, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise ConfigError(f"{name} {value!r} is unknown: use one of {', '.join(choices)}")


def _where(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"where must map metadata keys to values, e.g. {{\"lang\": \"en\"}}, got {value!r}")
    return dict(value) or None


class _Serialisable:
    """``to_dict`` / ``from_dict`` / ``merged`` for a frozen options dataclass."""

    _kind = "option"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict`` of it gives an equal object."""
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls: type[_Options], data: Mapping[str, Any]) -> _Options:
        """Options from a mapping; an unknown key is a :class:`ConfigError` naming it."""
        _known(cls, data)
        return cls(**data)

    def merged(self: _Options, **changes: Any) -> _Options:
        """A copy with ``changes`` applied (``None`` included: ``floor=None`` turns the middle zone off); validated."""
        _known(type(self), changes)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _known(cls: type, data: Mapping[str, Any]) -> None:
    names = sorted(f.name for f in fields(cls))
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown {cls._kind} {key!r}: known options are {', '.join(names)}")


@dataclass(frozen=True)
class SearchOptions(_Serialisable):
    """How to search: ``k`` hits in ``mode``, filtered by metadata (``where``) and source path glob (``source``).

    Raises:
        ConfigError: ``k`` outside 1–100 or an unknown mode.
    """

    _kind = "search option"
    k: int = 10
    mode: str = "hybrid"
    where: dict[str, str] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise ConfigError(f"k must be a whole number from 1 to {MAX_K:,}, got {self.k!r}")
        _choice(self.mode, MODES, "search mode")
        object.__setattr__(self, "where", _where(self.where))


@dataclass(frozen=True)
class AskOptions(_Serialisable):
    """How to answer a question: retrieval, the evidence gate, the prompt, decoding and the generator.

    Attributes:
        k / mode / where / source: retrieval, as :class:`SearchOptions` (``k`` passages, default 5).
        answer_length: ``brief``, ``explain`` or ``auto`` (:mod:`pipelines.rag.answer_length`).
        rewrite: how a follow-up is made standalone for retrieval: ``heuristic``, ``generator`` or ``none``.
        min_score: best dense cosine from which the model is always asked.
        floor: best dense cosine under which the question is always refused; between the two the name
            check decides (:class:`pipelines.rag.refusal.RefusalPolicy`); None: no middle zone.
        passage_tokens: most prompt tokens the passages take (None: what the window leaves).
        max_tokens / temperature / top_p / top_k / repetition_penalty / seed / stop: decoding
            (:class:`pipelines.generation.GenerationConfig`).
        preset / model_path: the generator (None: ``$SIFT_GENERATOR`` or the default preset).

    Raises:
        ConfigError: a value out of range or not one of its choices, named.
    """

    _kind = "ask option"
    k: int = 5
    mode: str = "hybrid"
    where: dict[str, str] | None = None
    source: str | None = None
    answer_length: str = DEFAULT_ANSWER_LENGTH
    rewrite: str = "heuristic"
    min_score: float = DEFAULT_MIN_DENSE_SCORE
    floor: float | None = DEFAULT_FLOOR
    passage_tokens: int | None = DEFAULT_PASSAGE_TOKENS
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = field(default=())
    preset: str | None = None
    model_path: str | None = None

    def __post_init__(self) -> None:
        SearchOptions(k=self.k, mode=self.mode, where=self.where, source=self.source)
        object.__setattr__(self, "where", _where(self.where))
        _choice(self.answer_length, ANSWER_LENGTHS, "answer_length")
        _choice(self.rewrite, REWRITE_MODES, "rewrite")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop))
        if len(self.stop) > 4 or not all(isinstance(s, str) for s in self.stop):
            raise ConfigError(f"stop takes at most 4 strings, got {list(self.stop)!r}")
        if self.passage_tokens is not None and self.passage_tokens < 1:
            raise ConfigError(f"passage_tokens must be at least 1 (or None for no cap), got {self.passage_tokens}")
        if not -1.0 <= self.min_score <= 1.0 or (self.floor is not None and not -1.0 <= self.floor <= 1.0):
            raise ConfigError(f"min_score and floor are cosines in [-1, 1], got {self.min_score} and {self.floor}")
        if self.preset is not None and self.model_path is not None:
            raise ConfigError("give a generator preset or a model path, not both")
        self.generation()  # decoding options checked now, not at the first token

    def generation(self) -> GenerationConfig:
        """The decoding options as the generators take them."""
        return GenerationConfig(
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
            repetition_penalty=self.repetition_penalty, max_new_tokens=self.max_tokens, stop=self.stop,
            seed=self.seed,
        )

    def refusal(self) -> RefusalPolicy:
        """The evidence gate these options ask for."""
        return RefusalPolicy(self.min_score, self.floor)

    def search(self) -> SearchOptions:
        """The retrieval part, as search options."""
        return SearchOptions(k=self.k, mode=self.mode, where=self.where, source=self.source)


@dataclass(frozen=True)
class ClassifyOptions(_Serialisable):
    """How to label texts (or the index) from label descriptions: ``sift classify``'s flags, the Classify page's
    controls, ``POST /v1/classify``'s fields and the MCP tool's inputs all become one of these.

    Attributes:
        method: ``zero-shot`` (embeddings), ``generate`` (the generator picks a label name for every text) or
            ``auto`` (the generator labels a sample, a classifier on the embeddings the rest:
            :mod:`pipelines.classify.auto`).
        calibration: zero-shot: subtract each label's mean similarity over the texts being labelled (or the
            index): ``auto`` (from 50 texts on), ``center`` (always) or ``none``.
        combine: zero-shot: ``mean`` (one normalised mean vector per label) or ``max`` (its best description).
        threshold: answer ``unknown`` below it (zero-shot: cosine similarity; generate: probability).
        priors: ``none``, ``center`` or ``em``: adapt the label priors to the texts (50 or more), without labels.
        expand: zero-shot: the generator writes this many typical texts per label, once per label set (cached),
            added to its descriptions (:mod:`pipelines.classify.expand`); 0 = off.
        sample: auto: how many texts the generator labels (0: 10 % of them, at least 10 per label).
        preset / model_path: the generator of ``generate``, ``auto`` and ``expand`` (None: ``$SIFT_GENERATOR`` or
            the default preset).

    Raises:
        ConfigError: a value out of range, not one of its choices, or an impossible combination, named.

    Example:
        >>> ClassifyOptions(expand=8).merged(combine="max").to_dict()["expand"]
        8
        >>> ClassifyOptions(method="generate", expand=8)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        indexing.errors.ConfigError: expand (--expand) writes texts for zero-shot labels: ...
    """

    _kind = "classify option"
    method: str = "zero-shot"
    calibration: str = "auto"
    combine: str = "mean"
    threshold: float | None = None
    priors: str = "none"
    expand: int = 0
    sample: int = 0
    preset: str | None = None
    model_path: str | None = None

    def __post_init__(self) -> None:
        from pipelines.classify.expand import check_expand
        from pipelines.classify.priors import PRIORS

        _choice(self.method, CLASSIFY_METHODS, "classify method")
        _choice(self.calibration, CLASSIFY_CALIBRATIONS, "calibration")
        _choice(self.combine, COMBINES, "combine")
        _choice(self.priors, PRIORS, "priors")
        check_expand(self.expand, "expand (--expand)")
        if self.threshold is not None and (isinstance(self.threshold, bool) or not -1.0 <= self.threshold <= 1.0):
            raise ConfigError(f"threshold must be a number from -1 to 1 (None: never abstain), got {self.threshold!r}")
        if self.expand and self.method != "zero-shot":
            raise ConfigError("expand (--expand) writes texts for zero-shot labels: use it with --method zero-shot, "
                              f"not {self.method}")
        if self.preset is not None and self.model_path is not None:
            raise ConfigError("give a generator preset or a model path, not both")
        if isinstance(self.sample, bool) or not isinstance(self.sample, int) or not 0 <= self.sample <= MAX_SAMPLE:
            raise ConfigError(f"sample (--sample) is how many texts the generator labels for --method auto: a whole "
                              f"number from 0 (10 % of the texts) to {MAX_SAMPLE:,}, got {self.sample!r}")
        if self.sample and self.method != "auto":
            raise ConfigError(f"sample (--sample) is the generator's share of --method auto, not of {self.method}")

    @property
    def needs_generator(self) -> bool:
        """True when these options load the generator (``generate``, ``auto``, or ``expand`` on a cache miss)."""
        return self.method in ("generate", "auto") or self.expand > 0


CLASSIFY_METHODS = ("zero-shot", "generate", "auto")
MAX_SAMPLE = 100_000
CLASSIFY_CALIBRATIONS = ("auto", "center", "none")
COMBINES = ("mean", "max")
