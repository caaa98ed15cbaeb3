"""Embeddings cached on disk, keyed by model and text content, so evaluations never embed twice.

Example:
    >>> vecs = cached_encode(Embedder(), ["a cat", "a dog"])  # doctest: +SKIP
    >>> vecs.shape                                             # second call reads the .npy
    (2, 384)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from indexing.fetch import cache_dir


class TextEncoder(Protocol):
    """What classification needs from an embedder (``indexing.embedder.Embedder`` fits)."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...


def embeddings_dir() -> Path:
    """``<data dir>/cache/embeddings``."""
    return cache_dir() / "embeddings"


def cache_key(model: str, texts: Sequence[str]) -> str:
    """A stable key for (model, texts); any change to a text or its order changes it.

    Example:
        >>> cache_key("m", ["a"]) == cache_key("m", ["a"]) != cache_key("m", ["b"])
        True
    """
    digest = hashlib.sha256(model.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
    safe_model = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
    return f"{safe_model}-{len(texts)}-{digest.hexdigest()[:20]}"


def weights_name(encoder: TextEncoder) -> str:
    """The encoder's model name, with ``+<tag>-f<format>`` when it runs int8 weights
    (:func:`indexing.onnx_cache.cache_tag`, :data:`indexing.onnx_cache.FORMAT`): each kind of weights, and
    int8 computed with or without :data:`indexing.onnx_encoder.INT8_PRECISION`, gives other vectors, so they
    must never share a cache file (``Embedder.name`` stays the model's name either way).

    Example:
        >>> class E: name = "m"; quantize = "int8"
        >>> weights_name(E())
        'm+int8-l2-f2'
    """
    from indexing.onnx_cache import FORMAT, cache_tag

    quantize = getattr(encoder, "quantize", "none")
    return encoder.name if quantize in (None, "none") else f"{encoder.name}+{cache_tag(quantize)}-f{FORMAT}"


def cached_encode(
    encoder: TextEncoder, texts: Sequence[str], *, directory: Path | None = None, show_progress: bool = False
) -> np.ndarray:
    """Embed ``texts`` with ``encoder``, reading/writing ``<directory>/<key>.npy``.

    Args:
        encoder: anything with ``name`` and ``encode``.
        texts: n strings.
        directory: cache folder (default :func:`embeddings_dir`).
        show_progress: draw a progress bar while embedding.

    Returns:
        (n, d) float32 unit rows.
    """
    directory = directory or embeddings_dir()
    path = directory / f"{cache_key(weights_name(encoder), texts)}.npy"
    if path.exists():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            return np.ascontiguousarray(cached, dtype=np.float32)
    vectors = np.ascontiguousarray(encoder.encode(list(texts), show_progress=show_progress), dtype=np.float32)
    directory.mkdir(parents=True, exist_ok=True)
    # Write then rename so an interrupted run never leaves a truncated cache file.
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npy", delete=False) as tmp:
        np.save(tmp, vectors)
    os.replace(tmp.name, path)
    return vectors
