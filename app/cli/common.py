"""Shared CLI helpers: option parsing, JSON output, progress bars."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from app.workspace import Workspace
from indexing.filters import parse_filters


def add_index_option(parser: argparse.ArgumentParser) -> None:
    """``--index DIR`` (default ``$SIFT_INDEX`` or ``data/index``)."""
    parser.add_argument("--index", metavar="DIR", help="index directory (default: $SIFT_INDEX or data/index)")


def add_where_option(parser: argparse.ArgumentParser) -> None:
    """``--where key=value`` (repeatable) and ``--source GLOB``."""
    parser.add_argument(
        "--where", action="append", default=[], metavar="KEY=VALUE", help="metadata filter (repeatable)"
    )
    parser.add_argument("--source", metavar="GLOB", help="only sources whose path matches, e.g. '*.md'")


def parse_where(items: list[str]) -> dict[str, str] | None:
    """``["topic=Arts"]`` → ``{"topic": "Arts"}``: the syntax of :mod:`indexing.filters`, one item per ``--where``.

    Raises:
        ConfigError: an item without ``=``, an invalid key, or one key with two values.
    """
    return parse_filters(items, origin="--where")


def workspace(args: argparse.Namespace, model: str | None = None) -> Workspace:
    """The workspace named by ``--index`` (and ``--model`` where given)."""
    return Workspace(getattr(args, "index", None), model=model)


def print_json(data: Any) -> None:
    """Stable JSON on stdout (sorted keys, 2-space indent, UTF-8)."""
    json.dump(data, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def tqdm_progress() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A progress callback drawing one tqdm bar per stage, and a function closing it."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="text", file=sys.stderr)
        bar.update(done - bar.n)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return update, close
