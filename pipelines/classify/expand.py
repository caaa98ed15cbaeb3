"""Label expansion: the local generator writes N typical texts for each label, once per label set.

Zero-shot by embeddings compares a text with a label's *descriptions* ("a positive movie review"), which
do not read like the texts being labelled ("A warm, funny film."). Expansion asks the generator for N short
texts that each label would be given (a numbered list; seeded sampling, so reproducible; asked again for the
missing ones when a list falls short, up to :data:`MAX_CALLS_PER_LABEL` calls per label), parses the lists
(:func:`parse_examples`: numbering, bullets, quotes and markup removed, empties and duplicates dropped) and
adds the texts to the label's descriptions, so the zero-shot classifier embeds and combines them with the
descriptions as usual (``combine="mean"``: one normalised mean vector per label; ``"max"``: the best one).

The texts are cached as JSON under ``<data dir>/cache/expansions/``, keyed by a hash of the label set
(names and descriptions), the generator's name, N and the prompt, so a second run makes no generator call;
:class:`Expansion` says whether it came from the cache, how many calls were made and how long they took.
Whether it helps is measured in ``docs/classify.md`` ("Expanded labels").

Example:
    >>> labels = LabelSet.parse(["pos=a positive movie review", "neg=a negative movie review"])
    >>> expansion = LabelExpander(load_generator("smollm2-135m"), 4).expand(labels)   # doctest: +SKIP
    >>> expansion.texts["pos"][0]                                                     # doctest: +SKIP
    'A heartwarming story with brilliant performances.'
    >>> expansion.labels(labels).descriptions["pos"][:2]                              # doctest: +SKIP
    ['a positive movie review', 'A heartwarming story with brilliant performances.']
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError
from indexing.fetch import cache_dir
from pipelines.classify.embed_cache import cache_key
from pipelines.classify.label_set import LabelSet
from pipelines.generation.base import GenerationConfig, Generator

MAX_EXPAND = 32
MAX_DESCRIPTIONS = 8  # a prompt names at most this many of a label's descriptions (the RT file has 30)
TOKENS_PER_TEXT = 48
PROMPT_VERSION = 2  # part of the cache key: a new prompt or procedure never reads texts written for the old one
# Seeded sampling, not greedy: greedy decoding of a list repeats itself (Qwen2.5-1.5B wrote items 6-8 of 8
# word for word the same), and the loop guard cut such lists after 3 items. A fixed seed keeps it reproducible.
DECODING = GenerationConfig(temperature=0.7, seed=0, stop_repeats=0)
# Asked for 16, Qwen2.5-1.5B wrote 5 to 8 distinct texts and stopped: a label is asked again (the next seed, for
# the texts still missing) until it has N or this many calls were made.
MAX_CALLS_PER_LABEL = 4
SYSTEM = "You write realistic example texts for a text classifier. Reply with a numbered list only."
USER = (
    "Label: {name}\nWhat the label means: {descriptions}\n\n"
    "Write {n} different, typical texts that would be given this label. Each is one or two sentences and is "
    "the text itself, not a description of it. Vary the wording and the subject. "
    "Reply with a numbered list from 1 to {n}, nothing else."
)
_ENUMERATED = re.compile(r"^\s*(?:\d{1,3}\s*[.):-]|[-*•+])\s+")
_MARKUP = re.compile(r"\*\*|__|`")
_QUOTES = "\"'“”‘’«»"


def check_expand(value: Any, name: str = "--expand") -> int:
    """``value`` as a number of texts per label, 0 (off) to :data:`MAX_EXPAND`.

    Raises:
        ConfigError: not a whole number in range, naming ``name`` (the flag or field the user set).

    Example:
        >>> check_expand(8)
        8
        >>> check_expand(-1)
        Traceback (most recent call last):
        ...
        indexing.errors.ConfigError: --expand must be a whole number of texts per label from 0 (off) to 32, got -1
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXPAND:
        raise ConfigError(f"{name} must be a whole number of texts per label from 0 (off) to {MAX_EXPAND}, "
                          f"got {value!r}")
    return value


def expansion_messages(name: str, descriptions: list[str], n: int) -> list[dict[str, str]]:
    """The chat that asks for ``n`` texts of one label.

    Example:
        >>> expansion_messages("pos", ["a happy text"], 3)[1]["content"].splitlines()[:2]
        ['Label: pos', 'What the label means: a happy text']
    """
    described = "; ".join(descriptions[:MAX_DESCRIPTIONS])
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(name=name, descriptions=described, n=n)}]


def parse_examples(raw: str, n: int) -> list[str]:
    """At most ``n`` texts from a generator's list: one per item, cleaned, empties and duplicates dropped.

    When any line is numbered or bulleted, only such lines are items (a preamble such as "Here are 3
    texts:" is dropped); otherwise every non-empty line is one. Markup and surrounding quotes go.

    Example:
        >>> parse_examples('Here are 3:\\n1. "Great film!"\\n2) **Loved it.**\\n3. great film!\\n4. Fine.', 3)
        ['Great film!', 'Loved it.', 'Fine.']
    """
    lines = [line for line in raw.splitlines() if line.strip()]
    items = [line for line in lines if _ENUMERATED.match(line)] or lines
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        text = _MARKUP.sub("", _ENUMERATED.sub("", item, count=1)).strip().strip(_QUOTES).strip()
        key = " ".join(text.casefold().rstrip(".!?").split())
        if len(key) < 3 or key in seen:
            continue
        seen.add(key)
        out.append(" ".join(text.split()))
        if len(out) == n:
            break
    return out


@dataclass(frozen=True)
class Expansion:
    """The texts written for each label, and what writing them cost.

    Attributes:
        generator: the generator's name.
        n: texts asked for per label (a label may have fewer: duplicates and empties are dropped).
        texts: label → its generated texts, in label order.
        cached: True when read from the cache (then ``calls`` is 0).
        calls: generator calls made by this run.
        seconds: wall time of those calls.
    """

    generator: str
    n: int
    texts: dict[str, list[str]]
    cached: bool = False
    calls: int = 0
    seconds: float = 0.0
    prompts: list[str] = field(default_factory=list, repr=False)

    def labels(self, base: LabelSet) -> LabelSet:
        """``base`` with each label's texts added after its descriptions."""
        return LabelSet({name: [*descs, *self.texts.get(name, [])] for name, descs in base.descriptions.items()})

    def summary(self) -> str:
        """One line: who wrote how many texts, and what it cost (or that they came from the cache).

        Example:
            >>> Expansion("qwen", 2, {"a": ["x", "y"], "b": ["z"]}, calls=2, seconds=3.0).summary()
            'expanded labels: qwen wrote 3 texts (1-2 per label, 2 asked): 2 generator calls, 3.0 s'
        """
        counts = [len(texts) for texts in self.texts.values()] or [0]
        cost = "read from the cache" if self.cached else f"{self.calls} generator calls, {self.seconds:.1f} s"
        return (f"expanded labels: {self.generator} wrote {sum(counts)} texts "
                f"({min(counts)}-{max(counts)} per label, {self.n} asked): {cost}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` prints)."""
        return {"generator": self.generator, "n": self.n, "texts": self.texts, "cached": self.cached,
                "calls": self.calls, "seconds": round(self.seconds, 2)}


class LabelExpander:
    """Writes (or reads from the cache) ``n`` typical texts per label with ``generator``.

    Args:
        generator: any :class:`~pipelines.generation.base.Generator`; nothing loads until a cache miss.
        n: texts per label, 1 to :data:`MAX_EXPAND`.
        directory: cache folder (default ``<data dir>/cache/expansions``).

    Raises:
        ConfigError: ``n`` out of range.
    """

    def __init__(self, generator: Generator, n: int, *, directory: Path | None = None) -> None:
        if check_expand(n) == 0:
            raise ConfigError("--expand 0 means no expansion: do not build a LabelExpander for it")
        self.generator = generator
        self.n = n
        self.directory = directory

    def cache_path(self, labels: LabelSet) -> Path:
        """Where the texts for ``labels`` live: keyed by (generator, N, prompt, names and descriptions)."""
        decoding = [DECODING.temperature, DECODING.top_p, DECODING.top_k, DECODING.seed]
        setup = json.dumps([PROMPT_VERSION, SYSTEM, USER, MAX_DESCRIPTIONS, MAX_CALLS_PER_LABEL, decoding, self.n,
                            labels.to_dict()])
        directory = self.directory or cache_dir() / "expansions"
        return directory / f"{cache_key(self.generator.name, [setup])}.json"

    def expand(self, labels: LabelSet) -> Expansion:
        """The texts for every label: from the cache, else written by seeded generator calls (then cached)."""
        path = self.cache_path(labels)
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return Expansion(data["generator"], data["n"], data["texts"], cached=True)
        texts: dict[str, list[str]] = {}
        prompts: list[str] = []
        started = time.perf_counter()
        for name, descriptions in labels.descriptions.items():
            texts[name] = self._write(name, descriptions, prompts)
        expansion = Expansion(self.generator.name, self.n, texts, calls=len(prompts),
                              seconds=time.perf_counter() - started, prompts=prompts)
        _write_json(path, {"generator": expansion.generator, "n": self.n, "texts": texts})
        return expansion

    def _write(self, name: str, descriptions: list[str], prompts: list[str]) -> list[str]:
        """Up to ``n`` distinct texts for one label, in at most :data:`MAX_CALLS_PER_LABEL` calls (appended to
        ``prompts``); each call asks for the texts still missing, with the next seed."""
        have: list[str] = []
        for call in range(MAX_CALLS_PER_LABEL):
            missing = self.n - len(have)
            prompt = self.generator.render_chat(expansion_messages(name, descriptions, missing))
            prompts.append(prompt)
            config = DECODING.replace(max_new_tokens=TOKENS_PER_TEXT * missing + 16, seed=DECODING.seed + call)
            have = parse_examples("\n".join(f"- {t}" for t in have) + "\n"
                                  + _as_items(self.generator.generate(prompt, config).text), self.n)
            if len(have) == self.n:
                break
        return have


def _as_items(raw: str) -> str:
    """A generator's list with each item bulleted, so it parses after the texts already kept."""
    lines = [line for line in raw.splitlines() if line.strip()]
    enumerated = [line for line in lines if _ENUMERATED.match(line)]
    return "\n".join(enumerated if enumerated else [f"- {line}" for line in lines])


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write then rename, so an interrupted run never leaves a half-written cache file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".json", delete=False, encoding="utf-8") as tmp:
        json.dump(data, tmp, ensure_ascii=False, indent=1)
    os.replace(tmp.name, path)
