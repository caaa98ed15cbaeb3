"""One typed settings object, from defaults ← ``sift.toml`` ← ``SIFT_*`` environment ← explicit arguments.

Example ``sift.toml``::

    index_dir = "data/index"
    model = "all-MiniLM-L6-v2"
    chunk_size = 200
    chunk_overlap = 32
    ocr = true
    ocr_lang = "eng+deu"

Environment: ``SIFT_INDEX``, ``SIFT_MODEL``, ``SIFT_CHUNK_SIZE``, ``SIFT_CHUNK_OVERLAP``,
``SIFT_BATCH_SIZE``, ``SIFT_DEVICE``, ``SIFT_OCR`` (``0``/``false``/``no``/``off`` turns OCR off,
``1``/``true``/``yes``/``on`` on, any case), ``SIFT_OCR_LANG``, ``SIFT_QUANTIZE``; ``SIFT_CONFIG`` names
another TOML file. ``SIFT_DATA`` sets the data directory (:func:`indexing.env.data_dir`, the checkout's
``data/`` by default); it has no TOML key because every layer reads it, model loading included, before any
settings exist. Values are parsed by :mod:`indexing.env`, the parsers of every other ``SIFT_*`` variable
too, so a bad value is a :class:`ConfigError` that names the variable (or the TOML key) and the value.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from indexing.env import data_dir, env_text, parse_bool, parse_int
from indexing.errors import ConfigError
from indexing.manifest import QUANTIZE, check_choice
from indexing.models import DEFAULT_MODEL

ENV = {
    "index_dir": "SIFT_INDEX",
    "model": "SIFT_MODEL",
    "chunk_size": "SIFT_CHUNK_SIZE",
    "chunk_overlap": "SIFT_CHUNK_OVERLAP",
    "batch_size": "SIFT_BATCH_SIZE",
    "device": "SIFT_DEVICE",
    "ocr": "SIFT_OCR",
    "ocr_lang": "SIFT_OCR_LANG",
    "quantize": "SIFT_QUANTIZE",
}
_INTS = {"chunk_size": 1, "chunk_overlap": 0, "batch_size": 1}  # key → smallest value allowed


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a workspace.

    Attributes:
        index_dir: where the index lives (default ``<data dir>/index``).
        data_dir: datasets, downloaded wheels, models and caches: ``$SIFT_DATA``, else the checkout's ``data/``
            (read from :func:`indexing.env.data_dir`; not settable here).
        model: embedding model name or path.
        chunk_size: most embedding-model tokens per chunk.
        chunk_overlap: tokens shared by consecutive chunks.
        batch_size: texts per embedding forward pass.
        device: torch device for embeddings; None = CUDA when available.
        ocr: recognize text in scanned PDF pages and images with tesseract when indexing.
        ocr_lang: tesseract language(s) for OCR, e.g. ``"eng"`` or ``"eng+deu"``.
        quantize: ``"auto"`` (int8 on the CPU, fp32 on a GPU), ``"none"`` or ``"int8"``: the embedding
            weights a new index is built with (an existing index keeps its own, from its manifest).

    Raises:
        ConfigError: a value of the wrong type or out of range, named.

    Example:
        >>> Settings(chunk_size="128").chunk_size, Settings().index_dir == Settings().data_dir / "index"
        (128, True)
    """

    index_dir: Path = field(default_factory=lambda: data_dir() / "index")
    data_dir: Path = field(default_factory=data_dir)
    model: str = DEFAULT_MODEL
    chunk_size: int = 200
    chunk_overlap: int = 32
    batch_size: int = 64
    device: str | None = None
    ocr: bool = True
    ocr_lang: str = "eng"
    quantize: str = "auto"

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _typed(f.name, getattr(self, f.name), f.name))

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from the TOML file, the environment and ``overrides`` (None values ignored).

        Raises:
            ConfigError: unreadable TOML, unknown key, a value of the wrong type (naming the ``SIFT_*``
                variable or the TOML key it came from), or ``data_dir`` anywhere but ``SIFT_DATA``.
        """
        values: dict[str, tuple[Any, str]] = {}  # key → (raw value, where it came from)
        path = config_file or Path(env_text("SIFT_CONFIG") or "sift.toml")
        if path.exists():
            try:
                table = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
            values |= {key: (raw, f"{key} in {path}") for key, raw in table.items()}
        for key, var in ENV.items():
            if (raw := env_text(var)) is not None:
                values[key] = (raw, var)
        values |= {key: (raw, key) for key, raw in overrides.items() if raw is not None}
        known = {f.name for f in fields(cls)}
        for key, (raw, where) in values.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r} (from {where}): known are {', '.join(sorted(known))}")
            if key == "data_dir":
                raise ConfigError(f"{where} cannot set the data directory: remove it and set SIFT_DATA={raw} instead")
        return cls(**{key: _typed(key, raw, where) for key, (raw, where) in values.items()})


def _typed(key: str, raw: Any, where: str) -> Any:
    """``raw`` as the type of setting ``key``, checked; errors name ``where`` (``SIFT_OCR``, ``ocr in sift.toml``).

    Example:
        >>> _typed("ocr", "Off", "SIFT_OCR"), _typed("chunk_size", "64", "SIFT_CHUNK_SIZE")
        (False, 64)
    """
    if key in ("index_dir", "data_dir"):
        if not isinstance(raw, str | os.PathLike) or not str(raw):
            raise ConfigError(f"{where} must be a folder path, got {raw!r}")
        return Path(raw)
    if key == "ocr":
        return parse_bool(raw, where)
    if key in _INTS:
        return parse_int(raw, where, minimum=_INTS[key])
    if key == "device" and raw in ("", None):
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where} must be a non-empty text, got {raw!r}")
    if key == "quantize":
        return check_choice(raw.strip().lower(), QUANTIZE, where)
    if key == "ocr_lang":
        from indexing.loaders import LoadOptions  # its check: a tesseract language list such as "eng+deu"

        try:
            LoadOptions(ocr_lang=raw)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return raw
