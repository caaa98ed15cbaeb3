"""The manifest every index writes: what built it, so nothing incompatible is ever mixed in."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from indexing.errors import ConfigError, IndexMismatchError
from indexing.lead import LEAD_STYLE

VECTOR_INDEXES = ("auto", "flat", "hnsw", "ivf-pq")
# What a user asks for: ``auto`` is int8 where embedding runs on the CPU, fp32 on a GPU
# (:func:`indexing.embedder.resolve_weights`).
QUANTIZE = ("auto", "none", "int8")
# What an index's vectors were embedded with: ``int8`` is today's layout (the first layer kept in fp32,
# :func:`indexing.onnx_cache.quantize_int8`); ``int8-all`` is the earlier one,
# every MatMul int8, which indexes written before it keep: their queries must use the same weights.
WEIGHTS = ("none", "int8", "int8-all")
INT8_LAYOUT = 2  # written to new manifests; a manifest without it (or with 1) holds int8-all vectors


def weights_family(weights: str) -> str:
    """``"int8"`` for either int8 layout, else ``weights``: what a user would have asked for.

    Example:
        >>> weights_family("int8-all"), weights_family("none")
        ('int8', 'none')
    """
    return "int8" if weights.startswith("int8") else weights


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """``value`` when it is one of ``choices``, else a ConfigError naming the choices.

    Example:
        >>> check_choice("hnsw", VECTOR_INDEXES, "--vector-index")
        'hnsw'
    """
    if value not in choices:
        raise ConfigError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape vectors and chunks."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("sentence-transformers", "torch", "transformers", "onnxruntime", "faiss-cpu",
                 "langchain-text-splitters", "PyStemmer"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class Manifest:
    """What an index was built with.

    Attributes:
        embedding_model: canonical model name, e.g. ``"all-MiniLM-L6-v2"``.
        dimension: vector size.
        normalized: vectors are unit length (inner product == cosine).
        chunk_size: tokens per chunk (chunker setting).
        chunk_overlap: overlap tokens (chunker setting).
        title_header: chunks are embedded as ``title + "\\n" + text``.
        lead_vectors: each document's first chunk also has a lead vector (:mod:`indexing.lead`).
            Indexes written before lead vectors existed read as False and keep syncing without them.
        lead_style: which lead text the lead vectors embed (:mod:`indexing.lead`); files without it
            came before style 2 and keep style 1 for every document they add.
        vector_index: the vector index policy, one of ``VECTOR_INDEXES`` (``auto``: exact below ~200k
            vectors, then an approximate index chosen by size; see :mod:`indexing.store.ann`).
        quantize: one of :data:`WEIGHTS`: ``"none"`` (fp32), ``"int8"`` or ``"int8-all"`` (int8-quantized
            weights, the current or the earlier layout). Queries must use the same weights, so an int8 index
            refuses the fp32 model and vice versa.
        int8_layout: which int8 layout ``"int8"`` means in the file (:data:`INT8_LAYOUT`); files without it
            came before the current layout, so their ``"int8"`` reads as ``"int8-all"``.
        versions: library versions at creation (informational; not compared).
        created: unix time of creation.
    """

    embedding_model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    normalized: bool = True
    title_header: bool = True
    lead_vectors: bool = False
    lead_style: int = LEAD_STYLE
    vector_index: str = "auto"
    quantize: str = "none"
    int8_layout: int = INT8_LAYOUT
    format_version: int = 1
    versions: dict[str, str] = field(default_factory=library_versions)
    created: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """Serialise (sorted keys, stable)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        """Parse what :meth:`to_json` wrote; unknown keys are ignored."""
        data: dict[str, Any] = json.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("quantize") == "int8" and int(known.get("int8_layout", 1)) < INT8_LAYOUT:
            known["quantize"] = "int8-all"  # written before the current int8 layout existed
        known.setdefault("lead_style", 1)  # written before lead styles existed
        return cls(**known)

    @property
    def leads(self) -> int:
        """The lead style documents added to this index get: 0 when it has no lead vectors."""
        return self.lead_style if self.lead_vectors else 0

    def check_compatible(self, other: Manifest, where: str) -> None:
        """Refuse to mix: raise when ``other`` (what is asked) differs from this (what is stored).

        Raises:
            IndexMismatchError: naming both settings and how to proceed.
        """
        if self.embedding_model != other.embedding_model or self.dimension != other.dimension:
            raise IndexMismatchError(
                f"index {where} was built with embedding model {self.embedding_model!r} "
                f"(dim {self.dimension}) but {other.embedding_model!r} (dim {other.dimension}) was asked for: "
                f"use --model {self.embedding_model} or a new --index directory"
            )
        if self.quantize != other.quantize:
            raise IndexMismatchError(
                f"index {where} was embedded with quantize={self.quantize} weights but quantize={other.quantize} "
                f"was asked for: use --quantize {weights_family(self.quantize)} or a new --index directory"
            )
        if (self.chunk_size, self.chunk_overlap) != (other.chunk_size, other.chunk_overlap):
            raise IndexMismatchError(
                f"index {where} was built with chunker size={self.chunk_size} overlap={self.chunk_overlap} "
                f"but size={other.chunk_size} overlap={other.chunk_overlap} was asked for: "
                f"use --chunk-size {self.chunk_size} --chunk-overlap {self.chunk_overlap} or a new --index directory"
            )
        if self.format_version != other.format_version:
            raise IndexMismatchError(
                f"index {where} has format {self.format_version}, this sift writes {other.format_version}: "
                "rebuild it in a new --index directory"
            )
