"""`sift eval corpus --compare`: the variant grammar, the rule that names the best variant, and its table.

An axis is ``NAME=V1,V2,...``; each value is one variant: the baseline (the current index's settings, hybrid
search, Ask's ``k``) with that one setting changed. Index axes (``chunk_size``, ``overlap``, ``leads``, ``model``)
need an index built with the variant's settings; query axes (``mode``, ``k``) reuse the baseline's index.

Example:
    >>> base = Variant(200, 32, True, "all-MiniLM-L6-v2")
    >>> [label for label, _ in variants([parse_axis("chunk_size=120,200")], base)]
    ['baseline', 'chunk_size=120']
    >>> best([{"label": "a", "mrr@10": 0.5, "index_seconds": 2.0, "query_ms_p50": 3.0},
    ...       {"label": "b", "mrr@10": 0.5, "index_seconds": 1.0, "query_ms_p50": 9.0}])
    'b'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from indexing.errors import ConfigError
from indexing.models import DEFAULT_MODEL, MINILM_ALIASES, MPNET_ALIASES
from pipelines.search import MODES

INDEX_AXES = ("chunk_size", "overlap", "leads", "model")
QUERY_AXES = ("mode", "k")
AXES = INDEX_AXES + QUERY_AXES
_ON_OFF = {"on": True, "off": False}
BEST_RULE = ("the best variant has the highest MRR@10 of its search mode (hybrid unless the axis is mode) on the "
             "answerable questions; equal to 3 decimals, the one with the shorter index time wins, then the one "
             "with the lower query p50")


@dataclass(frozen=True)
class Variant:
    """The settings one row of the comparison is measured with."""

    chunk_size: int
    overlap: int
    leads: bool
    model: str
    mode: str = "hybrid"
    k: int = 5

    def index_key(self) -> tuple[int, int, bool, str]:
        """What the index depends on: variants with the same key share one index."""
        return self.chunk_size, self.overlap, self.leads, self.model

    def describe(self) -> str:
        """``chunk_size=200 overlap=32 leads=on model=all-MiniLM-L6-v2 mode=hybrid k=5``."""
        return " ".join(f"{key}={_shown(value)}" for key, value in asdict(self).items())


@dataclass(frozen=True)
class Axis:
    """One ``--compare NAME=V1,V2`` option: the setting and its values, checked."""

    name: str
    values: tuple[Any, ...]


def parse_axis(text: str) -> Axis:
    """Parse ``NAME=V1,V2,...``.

    Raises:
        ConfigError: no ``=``, an unknown axis, no value, or a value the axis cannot take (each named).

    Example:
        >>> parse_axis("leads=on,off"), parse_axis("model=mpnet").values
        (Axis(name='leads', values=(True, False)), ('all-mpnet-base-v2',))
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(f"--compare {text!r}: write AXIS=V1,V2 with AXIS one of {', '.join(AXES)}")
    if name not in AXES:
        raise ConfigError(f"--compare: unknown axis {name!r}: use one of {', '.join(AXES)}")
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values:
        raise ConfigError(f"--compare {name}=: give at least one value, e.g. {name}={_EXAMPLES[name]}")
    return Axis(name, tuple(dict.fromkeys(_value(name, v) for v in values)))


_EXAMPLES = {"chunk_size": "120,320", "overlap": "0,64", "leads": "on,off", "model": "minilm,mpnet",
             "mode": "dense,bm25", "k": "3,8"}


def _value(axis: str, raw: str) -> Any:
    """One value of ``axis``, typed; a model name is made canonical (``mpnet`` → ``all-mpnet-base-v2``)."""
    if axis in ("chunk_size", "overlap", "k"):
        smallest = 0 if axis == "overlap" else 1
        if not raw.isdigit() or int(raw) < smallest:
            raise ConfigError(f"--compare {axis}: {raw!r} is not a whole number of {smallest} or more")
        return int(raw)
    if axis == "leads":
        if raw.lower() not in _ON_OFF:
            raise ConfigError(f"--compare leads: {raw!r} is not on or off")
        return _ON_OFF[raw.lower()]
    if axis == "mode":
        if raw not in MODES:
            raise ConfigError(f"--compare mode: {raw!r} is not one of {', '.join(MODES)}")
        return raw
    key = raw.lower()
    return DEFAULT_MODEL if key in MINILM_ALIASES else "all-mpnet-base-v2" if key in MPNET_ALIASES else raw


def variants(axes: Sequence[Axis], baseline: Variant, with_ask: bool = False) -> list[tuple[str, Variant]]:
    """``(label, variant)``: the baseline first, then each axis value that changes it (in the order given).

    Raises:
        ConfigError: an axis ``k`` without ``with_ask`` (``k`` changes only the passages Ask is given), or a
            value that makes the chunk overlap reach the chunk size.
    """
    plan: dict[Variant, str] = {baseline: "baseline"}
    for axis in axes:
        if axis.name == "k" and not with_ask:
            raise ConfigError("--compare k changes only the passages Ask is given: add --with-ask")
        field = "overlap" if axis.name == "overlap" else axis.name
        for value in axis.values:
            variant = replace(baseline, **{field: value})
            if variant.overlap >= variant.chunk_size:
                raise ConfigError(f"--compare {axis.name}={_shown(value)}: the overlap ({variant.overlap}) must be "
                                  f"smaller than the chunk size ({variant.chunk_size})")
            plan.setdefault(variant, f"{axis.name}={_shown(value)}")
    return [(label, variant) for variant, label in plan.items()]


def best(rows: Sequence[dict[str, Any]]) -> str | None:
    """The label of the best measured row by :data:`BEST_RULE`; None when no row has a score."""
    scored = [r for r in rows if r.get("mrr@10") is not None]
    if not scored:
        return None
    return min(scored, key=lambda r: (-round(r["mrr@10"], 3), r["index_seconds"], r["query_ms_p50"]))["label"]


def format_compare(report: dict[str, Any]) -> str:
    """The side-by-side table ``sift eval corpus --compare`` prints."""
    ask = any(row.get("ask") for row in report["rows"])
    head = f"{'variant':<24}{'index s':>9}{'p50 ms':>9}{'hit@1':>8}{'hit@5':>8}{'mrr@10':>8}"
    head += f"{'contain':>9}{'gold cit':>9}{'refusal':>9}{'false ref':>10}" if ask else ""
    lines = [f"{report['set']}: {report['answerable']} answerable questions scored; baseline {report['baseline']}",
             "", head]
    for row in report["rows"]:
        if row.get("skipped"):
            lines.append(f"{row['label']:<24}skipped: {row['skipped']}")
            continue
        line = (f"{row['label']:<24}{row['index_seconds']:>9.2f}{row['query_ms_p50']:>9.1f}"
                + "".join(f"{_number(row[m]):>8}" for m in ("hit@1", "hit@5", "mrr@10")))
        if ask:
            scores = row.get("ask") or {}
            line += "".join(f"{_number(scores.get(key)):>{width}}" for key, width in (
                ("containment", 9), ("answers_citing_gold", 9), ("refusal_rate", 9), ("false_refusal_rate", 10)))
        lines.append(line)
    lines += ["", f"best: {report['best']}" if report["best"] else "best: none (no variant was scored)",
              f"  ({BEST_RULE})"]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
