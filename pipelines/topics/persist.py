"""Pickle-free serialisation of a fitted TopicModel: arrays and one JSON document in an ``.npz``.

Loading never executes code from the file (``allow_pickle=False``), so a saved index is safe to
share.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipelines.topics.model import TopicModel

# 2: each topic records its label_source; format 1 files load with it inferred (see _topic_fields)
FORMAT_VERSION = 2
_ARRAYS = ("ids_", "labels_", "raw_labels_", "centroid_ids_", "centroids_")


def model_to_bytes(model: TopicModel) -> bytes:
    """Arrays of a fitted model plus its topics, parameters and timings as JSON.

    Raises:
        RuntimeError: the model is not fitted.
    """
    if not hasattr(model, "labels_"):
        raise RuntimeError("fit the TopicModel before saving it")
    info: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "params": model.params,
        "outlier_rate": model.outlier_rate_,
        "timings": model.timings_,
        "topics": [t.to_dict() for t in model.topics_],
    }
    arrays = {name.rstrip("_"): getattr(model, name) for name in _ARRAYS}
    coords = model.coords_ if model.coords_ is not None else np.zeros((0, 2), dtype=np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, coords=coords, info=np.array(json.dumps(info)), **arrays)
    return buf.getvalue()


def model_from_bytes(model: TopicModel, payload: bytes) -> TopicModel:
    """Fill ``model``'s fitted attributes from :func:`model_to_bytes` output.

    Example:
        >>> from pipelines.topics.model import TopicModel
        >>> E = np.eye(6, dtype=np.float32).repeat(10, axis=0)[:, :3]
        >>> m = TopicModel(seed=0, map_2d=False).fit(E, ["a b"] * 60)
        >>> TopicModel.from_bytes(m.to_bytes()).labels_.tolist() == m.labels_.tolist()
        True

    Raises:
        ValueError: the payload is not a saved topic model, or from a newer format.
    """
    from pipelines.topics.model import Topic

    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            arrays = {name: data[name.rstrip("_")] for name in _ARRAYS}
            coords = data["coords"]
            info = json.loads(str(data["info"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"not a saved topic model: {exc}") from exc
    if info.get("format", 0) > FORMAT_VERSION:
        raise ValueError(f"topic model format {info['format']} is newer than this sift reads ({FORMAT_VERSION})")
    for name, value in arrays.items():
        setattr(model, name, value)
    model.coords_ = coords if len(coords) else None
    model.params = info["params"]
    model.seed = info["params"].get("seed")
    model.outlier_rate_ = float(info["outlier_rate"])
    model.timings_ = info["timings"]
    model.topics_ = [Topic(**_topic_fields(t, info["params"])) for t in info["topics"]]
    return model


def _topic_fields(saved: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A saved topic's fields; a format-1 topic (no ``label_source``) gets the one its labeler implies.

    Format 1 did not record an empty labeler answer, so a labelled topic counts as "labeler".

    Example:
        >>> _topic_fields({"id": -1, "label": "outliers"}, {"labeler": "x"})["label_source"]
        'outliers'
    """
    if "label_source" in saved:
        return saved
    source = "outliers" if saved["id"] < 0 else ("labeler" if params.get("labeler") else "keywords")
    return {**saved, "label_source": source}
