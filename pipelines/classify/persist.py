"""Save and load classifiers as ``<name>.json`` (config) + ``<name>.npz`` (arrays); no pickle.

Loading therefore never runs code from the file: the JSON names one of the known classifier
types and the npz is read with ``allow_pickle=False``.

Example:
    >>> save_classifier(clf, Path("sentiment"))    # doctest: +SKIP
    (PosixPath('sentiment.json'), PosixPath('sentiment.npz'))
    >>> load_classifier(Path("sentiment.json")).labels  # doctest: +SKIP
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
    """``x`` / ``x.json`` / ``x.npz`` → (``x.json``, ``x.npz``)."""
    base = path.with_suffix("") if path.suffix in {".json", ".npz"} else path
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".npz")


def save_classifier(classifier: Classifier, path: Path) -> tuple[Path, Path]:
    """Write ``classifier`` next to ``path`` as a JSON + npz pair.

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
