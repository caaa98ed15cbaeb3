"""One typed settings object, from defaults ← ``sift.toml`` ← ``SIFT_*`` environment ← explicit arguments.

Example ``sift.toml``::

    index_dir = "data/index"
    model = "all-MiniLM-L6-v2"
    chunk_size = 200
    chunk_overlap = 32
    ocr = true
    ocr_lang = "eng+deu"

Environment: ``SIFT_INDEX``, ``SIFT_MODEL``, ``SIFT_CHUNK_SIZE``, ``SIFT_CHUNK_OVERLAP``,
``SIFT_BATCH_SIZE``, ``SIFT_DEVICE``, ``SIFT_DATA``, ``SIFT_OCR`` (``0``/``false``/``no`` turns OCR off,
``1``/``true``/``yes`` on), ``SIFT_OCR_LANG``; ``SIFT_CONFIG`` names another TOML file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError
from indexing.models import DEFAULT_MODEL

ENV = {
    "index_dir": "SIFT_INDEX",
    "data_dir": "SIFT_DATA",
    "model": "SIFT_MODEL",
    "chunk_size": "SIFT_CHUNK_SIZE",
    "chunk_overlap": "SIFT_CHUNK_OVERLAP",
    "batch_size": "SIFT_BATCH_SIZE",
    "device": "SIFT_DEVICE",
    "ocr": "SIFT_OCR",
    "ocr_lang": "SIFT_OCR_LANG",
    "quantize": "SIFT_QUANTIZE",
}
_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a workspace.

    Attributes:
        index_dir: where the index lives (default ``data/index``).
        data_dir: datasets, downloaded wheels and optional models (default ``data``).
        model: embedding model name or path.
        chunk_size: most embedding-model tokens per chunk.
        chunk_overlap: tokens shared by consecutive chunks.
        batch_size: texts per embedding forward pass.
        device: torch device for embeddings; None = CUDA when available.
        ocr: recognize text in scanned PDF pages and images with tesseract when indexing.
        ocr_lang: tesseract language(s) for OCR, e.g. ``"eng"`` or ``"eng+deu"``.
        quantize: ``"none"`` or ``"int8"``: the embedding weights a new index is built with (an existing
            index keeps its own, from its manifest).
    """

    index_dir: Path = Path("data/index")
    data_dir: Path = Path("data")
    model: str = DEFAULT_MODEL
    chunk_size: int = 200
    chunk_overlap: int = 32
    batch_size: int = 64
    device: str | None = None
    ocr: bool = True
    ocr_lang: str = "eng"
    quantize: str = "none"

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from the TOML file, the environment and ``overrides`` (None values ignored).

        Raises:
            ConfigError: unreadable TOML, unknown key or a value of the wrong type.
        """
        values: dict[str, Any] = {}
        path = config_file or Path(os.environ.get("SIFT_CONFIG", "sift.toml"))
        if path.exists():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
        for name, var in ENV.items():
            if os.environ.get(var):
                values[name] = os.environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls()._with(values, str(path))

    def _with(self, values: dict[str, Any], origin: str) -> Settings:
        known = {f.name: f for f in fields(self)}
        typed: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r} (from {origin} or SIFT_*): known are {', '.join(known)}")
            default = getattr(self, key)
            try:
                if isinstance(default, Path):
                    typed[key] = Path(raw)
                elif isinstance(default, bool):  # before int: bool is an int
                    typed[key] = _bool(raw)
                elif isinstance(default, int):
                    typed[key] = int(raw)
                else:
                    typed[key] = None if raw in ("", None) else str(raw)
            except (TypeError, ValueError) as exc:
                words = f" (use {', '.join(_BOOLS)})" if isinstance(default, bool) else ""
                raise ConfigError(f"setting {key}={raw!r} is not a valid {type(default).__name__}{words}") from exc
        return replace(self, **typed)


def _bool(raw: Any) -> bool:
    """A TOML bool, or an environment word: ``"0"``, ``"false"``, ``"no"``, ``"off"`` → False; ``"1"`` … → True.

    Raises:
        ValueError: any other value (reported as a ConfigError naming the setting and the words).

    Example:
        >>> _bool("No"), _bool(True)
        (False, True)
    """
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in _BOOLS:
        raise ValueError(f"{raw!r} is not a yes/no word")
    return _BOOLS[word]
