"""Save and load classifiers as a JSON config + an npz of arrays; no pickle.

``PATH`` is a folder (``PATH/classifier.json`` + ``PATH/classifier.npz``) unless it ends in
``.json`` or ``.npz`` (then ``PATH.json`` + ``PATH.npz`` side by side). Loading never runs code
from the files: the JSON names one of the known classifier types and the npz is read with
``allow_pickle=False``.

Example:
    >>> save_classifier(clf, Path("sentiment"))    # doctest: +SKIP
    (PosixPath('sentiment/classifier.json'), PosixPath('sentiment/classifier.npz'))
    >>> load_classifier(Path("sentiment")).labels  # doctest: +SKIP
    ['fresh', 'rotten']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.base import Classifier
from pipelines.classify.supervised import LogisticClassifier, PrototypeClassifier
from pipelines.classify.zero_shot import ZeroShotClassifier

FORMAT_VERSION = 1
KINDS: dict[str, Any] = {
    "zero-shot": ZeroShotClassifier,
    "prototype": PrototypeClassifier,
    "logreg": LogisticClassifier,
}


def _paths(path: Path) -> tuple[Path, Path]:
    """Folder ``x`` → (``x/classifier.json``, ``x/classifier.npz``); ``x.json``/``x.npz`` → (``x.json``, ``x.npz``)."""
    if path.suffix in {".json", ".npz"}:
        base = path.with_suffix("")
        return base.with_name(base.name + ".json"), base.with_name(base.name + ".npz")
    return path / "classifier.json", path / "classifier.npz"


def save_classifier(classifier: Classifier, path: Path) -> tuple[Path, Path]:
    """Write ``classifier`` as a JSON + npz pair into folder ``path`` (or next to ``path.json``).

    Returns:
        The two paths written.
    """
    config, arrays = classifier.state()  # type: ignore[attr-defined]
    json_path, npz_path = _paths(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npz_path, **arrays)
    document = {"format": FORMAT_VERSION, "method": classifier.method, "config": config}
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return json_path, npz_path


def load_classifier(path: Path) -> Classifier:
    """Read a classifier written by :func:`save_classifier`.

    Raises:
        ConfigError: files missing, from a newer format, or of an unknown method.
    """
    json_path, npz_path = _paths(path)
    if not json_path.is_file() or not npz_path.is_file():
        raise ConfigError(f"no saved classifier at {json_path} (+ {npz_path.name}); train one with --save")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (json.JSONDecodeError, ValueError, OSError) as exc:
        raise ConfigError(f"saved classifier {json_path} is unreadable: {exc}") from exc
    if document.get("format") != FORMAT_VERSION:
        raise ConfigError(f"{json_path}: format {document.get('format')!r}, this version reads {FORMAT_VERSION}")
    kind = KINDS.get(document.get("method", ""))
    if kind is None:
        raise ConfigError(f"{json_path}: unknown method {document.get('method')!r}; known: {', '.join(KINDS)}")
    return kind.from_state(document["config"], arrays)
