"""ONNX graphs of embedding models: exported from PyTorch, optionally int8-quantized, verified, cached on disk.

A graph is exported in memory from the loaded ``SentenceTransformer`` and checked against PyTorch on
:data:`PROBES` (fp32: cosine >= :data:`MIN_COSINE`; int8: >= :data:`MIN_COSINE_INT8`), then written to
``<data dir>/models/onnx/<model>-<sha12>[-int8].onnx`` with a JSON sidecar (written last, atomically:
the commit marker) recording the SHA-256 of the model files it came from, of the graph itself, and the
probe vectors it produced. A later process opens it with :func:`load_cached` without torch: the
source files are hashed again (~0.15 s for MiniLM's 91 MB), the graph's bytes too, and the probes
must come out as recorded; any mismatch logs why and returns None, so the caller rebuilds.

int8: ``onnxruntime.quantization.quantize_dynamic`` with signed 8-bit weights quantized per output
channel, the variant closest to PyTorch (``docs/decisions/onnx-runtime.md``), except the first layer, which
stays fp32 (:func:`quantize_int8`, ``docs/decisions/int8-embeddings.md``). ``int8-all`` (every MatMul int8) is
the earlier layout, kept for the indexes built with it; its graphs keep their file names (``-int8``), today's
carry the layout's number (``-int8-l2``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexing.env import data_dir
from indexing.manifest import INT8_LAYOUT
from indexing.models import ResolvedModel
from indexing.onnx_encoder import OnnxEncoder

log = logging.getLogger(__name__)

# 2: int8 sessions compute without saturation on CPUs lacking VNNI (onnx_encoder.INT8_PRECISION), so probe
# vectors recorded by format 1 are not what a session gives now; such a cache is rebuilt once.
FORMAT = 2
PROBES = [
    "a short query",
    "Second probe: with punctuation, numbers (1994) and Ünïcödé.",
    "The Amazon River in South America is the largest river by discharge volume of water in the world.",
    "word " * 300,  # longer than the model reads: truncation is checked too
]
MIN_COSINE = 0.9999  # fp32 ONNX vs PyTorch; float rounding gives > 0.99999
MIN_COSINE_INT8 = 0.98  # int8 vs fp32 PyTorch; per-channel int8 measured >= 0.99 on wiki chunks
# Files whose bytes decide the vectors; the weights (first two) must be one of them.
SOURCE_FILES = ("model.safetensors", "pytorch_model.bin", "tokenizer.json", "config.json", "modules.json",
                "sentence_bert_config.json", "1_Pooling/config.json")


def cache_dir() -> Path:
    """Where verified graphs are kept: ``<data dir>/models/onnx``."""
    return data_dir() / "models" / "onnx"


def source_digest(location: str) -> str | None:
    """SHA-256 over the model files that decide its vectors; None when the model is not a local folder with weights."""
    folder = Path(location)
    if not any((folder / name).is_file() for name in SOURCE_FILES[:2]) or not (folder / "tokenizer.json").is_file():
        return None
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
    return digest.hexdigest()


def cache_tag(weights: str) -> str:
    """The name ``weights`` have in cache files: ``"none"``, ``"int8-l2"`` (today's int8, layout
    :data:`~indexing.manifest.INT8_LAYOUT`), ``"int8"`` (int8-all).

    ``int8-all`` keeps the tag its graphs and cached vectors were written with before the current layout, so
    they stay valid; today's int8 names its layout, so nothing cached with other weights is read as its own.

    Example:
        >>> cache_tag("int8"), cache_tag("int8-all"), cache_tag("none")
        ('int8-l2', 'int8', 'none')
    """
    return {"int8": f"int8-l{INT8_LAYOUT}", "int8-all": "int8"}.get(weights, weights)


def graph_path(resolved: ResolvedModel, digest: str, quantize: str) -> Path:
    """``<cache>/<model>-<sha12>.onnx``, or ``…-int8-l2.onnx`` (int8), ``…-int8.onnx`` (int8-all)."""
    suffix = "" if quantize == "none" else f"-{cache_tag(quantize)}"
    return cache_dir() / f"{resolved.name.replace('/', '_')}-{digest[:12]}{suffix}.onnx"


def open_encoder(resolved: ResolvedModel, quantize: str, load_model: Callable[[], Any]) -> OnnxEncoder | None:
    """The cached encoder, else one built from ``load_model()`` (PyTorch); None where ONNX does not apply.

    None (reason logged) also when ``onnxruntime`` or ``tokenizers`` is not installed.
    """
    missing = [name for name in ("onnxruntime", "tokenizers") if importlib.util.find_spec(name) is None]
    if missing:
        log.warning("%s not installed: no ONNX Runtime path for %s", " and ".join(missing), resolved.name)
        return None
    return load_cached(resolved, quantize) or build(load_model(), resolved, quantize)


def load_cached(resolved: ResolvedModel, quantize: str) -> OnnxEncoder | None:
    """The verified cached encoder of ``resolved`` with ``quantize`` weights, or None (reason logged)."""
    digest = source_digest(resolved.location)
    if digest is None:
        return None
    path = graph_path(resolved, digest, quantize)
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        graph = path.read_bytes()
    except (OSError, ValueError) as exc:
        log.info("ONNX cache %s unreadable (%s); rebuilding", path, exc)
        return None
    recorded = (meta.get("format"), meta.get("source_sha256"), meta.get("quantize"))
    if recorded != (FORMAT, digest, cache_tag(quantize)):
        log.info("ONNX cache %s is for other model files or settings; rebuilding", path)
        return None
    if hashlib.sha256(graph).hexdigest() != meta.get("graph_sha256"):
        log.warning("ONNX cache %s does not match its recorded hash; rebuilding", path)
        return None
    try:
        encoder = _encoder(graph, resolved, meta, quantize)
        agreement = _agreement(encoder.encode(PROBES), np.asarray(meta["probe_vectors"], dtype=np.float32))
    except Exception as exc:  # noqa: BLE001 - a graph ONNX Runtime cannot run is a cache miss
        log.warning("ONNX cache %s unusable (%s: %s); rebuilding", path, type(exc).__name__, exc)
        return None
    if agreement < MIN_COSINE:
        log.warning("ONNX cache %s gives other vectors than when built (cosine %.5f); rebuilding", path, agreement)
        return None
    return encoder


def build(model: Any, resolved: ResolvedModel, quantize: str) -> OnnxEncoder | None:
    """Export (and quantize) the loaded SentenceTransformer ``model``, verify it against PyTorch, cache it.

    Returns None (reason logged) when the model is not Transformer → mean pooling (→ Normalize), is
    not a local folder with ``tokenizer.json``, ``onnxruntime`` is missing, or the vectors disagree.
    """
    from indexing.query_runtime import _mean_pooled_transformer

    digest = source_digest(resolved.location)
    auto = _mean_pooled_transformer(model)
    if digest is None or auto is None:
        log.info("model %s: no ONNX path (not a local mean-pooled transformer with tokenizer.json)", resolved.name)
        return None
    try:
        graph, names = _export(model, auto)
        if quantize != "none":
            graph = quantize_int8(graph, keep_fp32=quantize == "int8")
        meta = {"format": FORMAT, "source_sha256": digest, "quantize": cache_tag(quantize), "input_names": names,
                "dimension": int(getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)()),
                "max_seq_length": int(model.max_seq_length)}
        encoder = _encoder(graph, resolved, meta, quantize)
        vectors = encoder.encode(PROBES)
    except Exception as exc:  # noqa: BLE001 - any exporter/runtime failure means: no ONNX path
        log.warning("model %s: ONNX export failed (%s: %s)", resolved.name, type(exc).__name__, exc)
        return None
    reference = model.encode(PROBES, convert_to_numpy=True, normalize_embeddings=True)
    agreement = _agreement(vectors, reference)
    floor = MIN_COSINE if quantize == "none" else MIN_COSINE_INT8
    if agreement < floor:
        log.warning("model %s: ONNX %s vectors differ from PyTorch (cosine %.5f < %s)", resolved.name,
                    quantize, agreement, floor)
        return None
    meta |= {"graph_sha256": hashlib.sha256(graph).hexdigest(), "probe_vectors": vectors.tolist(),
             "cosine_vs_pytorch": agreement}
    _save(graph_path(resolved, digest, quantize), graph, meta)
    return encoder


def quantize_int8(graph: bytes, keep_fp32: bool = True) -> bytes:
    """``graph`` with its MatMul/Gemm weights dynamically quantized to signed int8, per output channel.

    ``keep_fp32``: the MatMuls :func:`fp32_nodes` names (the first layer) stay fp32 (today's int8); False
    quantizes every one (``int8-all``).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="sift-quant-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(graph)
        logging.disable(logging.WARNING)  # its root-logger "consider pre-processing" nag, meant for CNNs
        try:
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=fp32_nodes(graph) if keep_fp32 else [])
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def fp32_nodes(graph: bytes) -> list[str]:
    """The MatMuls that stay fp32 in today's int8: the whole first layer, in graph order.

    The first layer is every weighted MatMul up to and including the first that narrows (more weight rows than
    columns: the FFN output projection, MiniLM's 1536 -> 384). It reads the token embeddings themselves, where
    a rare identifier's sub-words differ, and its FFN output was the MatMul whose quantization cost MiniLM the
    most; measured in ``docs/decisions/int8-embeddings.md``.
    """
    import onnx

    model = onnx.load_from_string(graph)
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    weighted = [(node.name, shape) for node in model.graph.node if node.op_type == "MatMul"
                for shape in [next((shapes[n] for n in node.input if len(shapes.get(n, ())) == 2), None)] if shape]
    ends = [i for i, (_, shape) in enumerate(weighted) if shape[0] > shape[1]]
    return [name for name, _ in weighted[: ends[0] + 1]] if ends else []


def _export(model: Any, auto: Any) -> tuple[bytes, list[str]]:
    import torch

    from indexing.query_runtime import _export as export_graph
    from indexing.query_runtime import _features

    features = _features(model, PROBES[:1])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]
    return export_graph(auto, names, [features[n] for n in names], torch), names


def _encoder(graph: bytes, resolved: ResolvedModel, meta: dict[str, Any], quantize: str) -> OnnxEncoder:
    return OnnxEncoder(graph, str(Path(resolved.location) / "tokenizer.json"), meta["input_names"],
                       int(meta["dimension"]), int(meta["max_seq_length"]), quantize)


def _agreement(got: np.ndarray, reference: np.ndarray) -> float:
    if got.shape != reference.shape:
        return -1.0
    return float(np.min(np.sum(got * reference, axis=1)))


def _save(path: Path, graph: bytes, meta: dict[str, Any]) -> None:
    """Graph then sidecar, each written to a temporary file and renamed; an unwritable cache is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, data in ((path, graph), (path.with_suffix(".json"), json.dumps(meta).encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other users of the data dir
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as exc:
        log.info("ONNX graph not cached (%s): the next process exports it again", exc)
