"""Label sets: each label name with one or more natural-language descriptions.

A label file is TOML or JSON. Either a ``[labels]`` table or top-level keys map a label to one
description or a list of them:

.. code-block:: toml

    [labels]
    fresh = ["a positive movie review", "the critic loved this film"]
    rotten = "a negative movie review"

On the command line, ``--label "name=description"`` may repeat; repeating a name adds a
description, and a bare ``name`` uses the name itself as its description.

Example:
    >>> LabelSet.parse(["pos=a happy text", "neg=a sad text", "pos=joy"]).descriptions
    {'pos': ['a happy text', 'joy'], 'neg': ['a sad text']}
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError

UNKNOWN = "unknown"
BUILTIN = {"rotten-tomatoes": "rotten_tomatoes.toml", "wiki-topics": "wiki_topics.toml",
           "debates-2016": "debates_2016.toml", "fortunes": "fortunes.toml"}


@dataclass(frozen=True)
class LabelSet:
    """Ordered label names with their descriptions.

    Attributes:
        descriptions: label → non-empty list of descriptions, in file order.
    """

    descriptions: dict[str, list[str]]

    def __post_init__(self) -> None:
        if len(self.descriptions) < 2:
            raise ConfigError(f"need at least two labels to classify, got {list(self.descriptions)}")
        for name, texts in self.descriptions.items():
            if not name.strip():
                raise ConfigError("a label name is empty")
            if name == UNKNOWN:
                raise ConfigError(f"{UNKNOWN!r} is reserved for abstentions; rename that label")
            if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise ConfigError(f"label {name!r} needs at least one non-empty description")

    @property
    def labels(self) -> list[str]:
        """Label names in order."""
        return list(self.descriptions)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "labels") -> LabelSet:
        """Build from ``{label: description | [descriptions]}``.

        Raises:
            ConfigError: a value is neither a string nor a list of strings.
        """
        out: dict[str, list[str]] = {}
        for name, value in mapping.items():
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{source}: label {name!r} must map to a string or a list of strings")
            out[str(name).strip()] = [v.strip() for v in values]
        return cls(out)

    @classmethod
    def parse(cls, specs: list[str]) -> LabelSet:
        """Build from ``["name=description", ...]`` (``--label`` options)."""
        out: dict[str, list[str]] = {}
        for spec in specs:
            name, sep, desc = spec.partition("=")
            name = name.strip()
            out.setdefault(name, []).append(desc.strip() if sep else name)
        return cls(out)

    @classmethod
    def from_names(cls, names: list[str]) -> LabelSet:
        """Each label described by its own name (the fallback when no descriptions are given)."""
        return cls({n: [n] for n in names})

    @classmethod
    def load(cls, path: Path) -> LabelSet:
        """Read a TOML or JSON label file.

        Raises:
            ConfigError: missing file, bad syntax or bad layout.
        """
        if not path.is_file():
            raise ConfigError(f"label file not found: {path}")
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
            else:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"label file {path} cannot be parsed: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"label file {path} must hold a table/object of labels")
        table = data.get("labels", data)
        if not isinstance(table, dict):
            raise ConfigError(f"label file {path}: 'labels' must be a table")
        return cls.from_mapping(table, str(path))

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready copy."""
        return {k: list(v) for k, v in self.descriptions.items()}


def builtin_labels(dataset: str) -> LabelSet:
    """The shipped, dev-tuned descriptions for a built-in dataset.

    Example:
        >>> builtin_labels("rotten-tomatoes").labels
        ['fresh', 'rotten']

    Raises:
        ConfigError: no shipped label file for ``dataset``.
    """
    if dataset not in BUILTIN:
        raise ConfigError(f"no built-in labels for {dataset!r}; pass --labels FILE")
    resource = resources.files("pipelines.classify") / "labels" / BUILTIN[dataset]
    return LabelSet.load(Path(str(resource)))
