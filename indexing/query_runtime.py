"""A fast path for embedding a handful of texts (search queries) on CPU: the same weights run by ONNX Runtime.

Why: one query through PyTorch eager is dominated by per-call overhead, not arithmetic (each matrix
product re-packs its weights for a 10-row input); ONNX Runtime pre-packs them once. Measured:
``docs/decisions/onnx-runtime.md``.

This is the query path of the PyTorch runtime (``SIFT_EMBED_RUNTIME=torch``). By default batches run on
ONNX Runtime too, from a graph cached on disk (:mod:`indexing.onnx_cache`, :mod:`indexing.onnx_encoder`),
and queries use that graph's few-thread session; the export and module checks below are shared with it.

The ONNX graph is exported in memory from the loaded model when first needed (about 2 s) and is
checked against PyTorch on probe texts; any difference beyond float rounding, an architecture it does
not cover, or a missing ``onnxruntime`` leaves queries on PyTorch. ``SIFT_QUERY_RUNTIME=torch``
turns the fast path off.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

from indexing.env import env_choice
from indexing.onnx_encoder import query_threads

log = logging.getLogger(__name__)

PROBES = ["a short query", "Second probe: with punctuation, numbers (1994) and Ünïcödé."]
MIN_COSINE = 0.9999  # ONNX vs PyTorch on the probes; float rounding gives > 0.99999
QUERY_RUNTIMES = ("onnx", "torch")


def query_runtime() -> str:
    """``SIFT_QUERY_RUNTIME``: ``onnx`` (default, the fast path) or ``torch`` (PyTorch for every query).

    Raises:
        ConfigError: any other value.

    Example:
        >>> query_runtime() in QUERY_RUNTIMES
        True
    """
    return env_choice("SIFT_QUERY_RUNTIME", QUERY_RUNTIMES, "onnx")


class OnnxQueryEncoder:
    """Runs a SentenceTransformer of the form Transformer → mean Pooling → (Normalize) in ONNX Runtime.

    Build with :func:`build_query_encoder`, which verifies it; ``encode`` returns unit-length vectors
    equal (to float rounding) to ``SentenceTransformer.encode(..., normalize_embeddings=True)``.
    """

    def __init__(self, model: Any, session: Any, input_names: list[str]) -> None:
        self.model = model
        self.session = session
        self.input_names = input_names

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n, d) float32 unit vectors of ``texts``."""
        features = _features(self.model, texts)
        feeds = {name: features[name].numpy().astype(np.int64) for name in self.input_names}
        hidden = self.session.run(None, feeds)[0]
        mask = features["attention_mask"].numpy()[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(pooled / norms, dtype=np.float32)


def _features(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own tokenization of ``texts`` (same padding and truncation as ``encode``)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize  # ``tokenize`` before sentence-transformers 5
    return prepare(texts)


def _mean_pooled_transformer(model: Any) -> Any | None:
    """The Hugging Face module under ``model`` when the pipeline is Transformer → mean pooling (→ Normalize)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) not in (2, 3) or names[0] != "Transformer" or names[1] != "Pooling":
        return None
    if len(modules) == 3 and names[2] != "Normalize":
        return None
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers ≥ 5: a string
    if mode is None:  # older releases: one flag per mode
        mean_only = getattr(pooling, "pooling_mode_mean_tokens", False) and not any(
            getattr(pooling, flag, False) for flag in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                                       "pooling_mode_mean_sqrt_len_tokens")
        )
        mode = "mean" if mean_only else "other"
    if mode != "mean":
        return None
    return getattr(modules[0], "auto_model", None)


def build_query_encoder(model: Any) -> OnnxQueryEncoder | None:
    """An ONNX Runtime encoder for the loaded SentenceTransformer ``model``, or None where it does not apply.

    None when: ``SIFT_QUERY_RUNTIME=torch``; the model is on a GPU; ``onnxruntime``/``onnx`` are not
    installed; the architecture is not Transformer → mean pooling; export fails; or the ONNX
    vectors differ from PyTorch's on the probes.
    """
    if query_runtime() == "torch":
        return None
    if str(getattr(model, "device", "cpu")) != "cpu":
        return None
    auto = _mean_pooled_transformer(model)
    if auto is None:
        return None
    try:
        import onnxruntime as ort
        import torch
    except ImportError:
        return None
    try:
        features = _features(model, PROBES[:1])
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]
        graph = _export(auto, names, [features[n] for n in names], torch)
        options = ort.SessionOptions()
        options.intra_op_num_threads = query_threads()
        options.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning: on a busy machine a spinning pool steals the very
        # cores the query needs (the OpenMP failure described in indexing.embedder). ORT's caller
        # thread runs any share a descheduled worker has not started, so a late worker costs little.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        encoder = OnnxQueryEncoder(model, session, names)
        fast = encoder.encode(PROBES)
    except Exception as exc:  # noqa: BLE001 - any exporter/runtime failure means: stay on PyTorch
        log.info("query fast path unavailable (%s: %s); queries use PyTorch", type(exc).__name__, exc)
        return None
    reference = model.encode(PROBES, convert_to_numpy=True, normalize_embeddings=True)
    agreement = float(np.min(np.sum(fast * reference, axis=1)))
    if agreement < MIN_COSINE:
        log.warning("ONNX query vectors differ from PyTorch (cosine %.5f); queries use PyTorch", agreement)
        return None
    return encoder


def _export(auto: Any, names: list[str], tensors: list[Any], torch: Any) -> bytes:
    """The Hugging Face model as an ONNX graph (bytes) with dynamic batch and sequence axes."""

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    buffer = io.BytesIO()
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(auto).eval(), tuple(tensors), buffer, dynamo=False, input_names=names,
            output_names=["hidden"], dynamic_axes=axes, opset_version=17,
        )
    return buffer.getvalue()
