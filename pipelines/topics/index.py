"""Topics of an index: fit on the stored vectors, write topic metadata, save the result with the index.

The result is saved as the store artifact ``"topics"``; the store records the generation it was
computed on, so any change to the chunks or vectors makes it stale.

Example:
    >>> from indexing.store import Store
    >>> store = Store.open(Path("data/index"))                      # doctest: +SKIP
    >>> result = index_topics(store, seed=0)                        # doctest: +SKIP
    >>> store.filter_ids({"topic_id": "0"})                         # doctest: +SKIP
    array([ 12,  57, ...])
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path  # noqa: F401 - used in the module example
from typing import Any, Protocol

import numpy as np

from indexing.errors import ConfigError, IndexNotFoundError, SiftError
from indexing.filters import TOPIC_ID_KEY, TOPIC_LABEL_KEY
from pipelines.topics.model import OUTLIER_LABEL, Labeler, TopicModel

ARTIFACT = "topics"
ID_KEY = TOPIC_ID_KEY  # reserved in indexing.filters: no classification may write it
LABEL_KEY = TOPIC_LABEL_KEY
LEVELS = ("chunk", "doc")


class StaleTopicsError(SiftError):
    """Saved topics were computed before the index last changed."""


class TopicStore(Protocol):
    """What topic modelling needs from :class:`indexing.store.Store`."""

    generation: int

    def vectors(self) -> tuple[np.ndarray, np.ndarray]: ...
    def get_chunks(self, ids: Sequence[int]) -> list[Any]: ...
    def update_meta(
        self,
        chunk_meta: dict[int, dict[str, Any]] | None = None,
        doc_meta: dict[str, dict[str, Any]] | None = None,
    ) -> None: ...
    def put_artifact(self, name: str, payload: bytes) -> None: ...
    def get_artifact(self, name: str) -> tuple[int, bytes] | None: ...


@dataclass
class IndexTopics:
    """Topics of one index.

    Attributes:
        model: the fitted :class:`TopicModel` (``model.ids_``: chunk ids, or a document's first chunk id).
        chunk_ids: (n,) every chunk id of the index.
        chunk_topics: (n,) topic id of each chunk (-1 = outlier).
        coords: (n, 2) map coordinates per chunk, or None.
        level: "chunk" or "doc" (what was clustered).
        generation: store generation the topics were computed on.
        stale: the index has changed since.
        recomputed: fitted in this call rather than loaded.
    """

    model: TopicModel
    chunk_ids: np.ndarray
    chunk_topics: np.ndarray
    coords: np.ndarray | None
    level: str
    generation: int
    stale: bool = False
    recomputed: bool = False

    def members(self, topic_id: int) -> list[int]:
        """Chunk ids of one topic (-1: the outliers), in index order.

        Example:
            >>> topics.members(0)[:3]                                   # doctest: +SKIP
            [4, 9, 17]
        """
        return self.chunk_ids[self.chunk_topics == int(topic_id)].tolist()

    def to_dict(self) -> dict[str, Any]:
        """The ``sift topics --json`` schema."""
        m = self.model
        return {
            "generation": self.generation,
            "stale": self.stale,
            "recomputed": self.recomputed,
            "level": self.level,
            "params": m.params,
            "n_topics": sum(1 for t in m.topics_ if t.id >= 0),
            "outlier_rate": round(m.outlier_rate_, 6),
            "timings": {k: round(v, 3) for k, v in m.timings_.items()},
            "topics": [t.to_dict() for t in m.topics_],
        }


def majority_topic(doc_ids: Sequence[str], topics: np.ndarray) -> dict[str, int]:
    """Document topic = most common topic of its chunks; outliers count only when nothing else does.

    Ties go to the lower topic id.

    Example:
        >>> majority_topic(["a", "a", "a", "b"], np.array([2, 1, 1, -1]))
        {'a': 1, 'b': -1}
    """
    votes: dict[str, Counter[int]] = {}
    for doc, topic in zip(doc_ids, topics.tolist(), strict=True):
        votes.setdefault(doc, Counter())[topic] += 1
    out: dict[str, int] = {}
    for doc, counter in votes.items():
        real = {t: n for t, n in counter.items() if t >= 0}
        out[doc] = min(real, key=lambda t: (-real[t], t)) if real else -1
    return out


def _doc_vectors(doc_ids: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Unit mean vector per document; returns (docs, (m, d) vectors, (n,) row → document index)."""
    position: dict[str, int] = {}
    row_doc = np.array([position.setdefault(d, len(position)) for d in doc_ids], dtype=np.int64)
    docs = list(position)
    sums = np.zeros((len(docs), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, row_doc, vectors)
    sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return docs, sums.astype(np.float32), row_doc


def _fit_documents(
    model: TopicModel, ids: np.ndarray, vectors: np.ndarray, texts: list[str], doc_ids: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit on one mean vector per document; chunks inherit their document's topic and map point."""
    docs, doc_vecs, row_doc = _doc_vectors(doc_ids, vectors)
    grouped: list[list[str]] = [[] for _ in docs]
    first_chunk = np.zeros(len(docs), dtype=np.int64)
    for row in range(len(row_doc) - 1, -1, -1):  # backwards, so the first chunk's id wins
        grouped[row_doc[row]].insert(0, texts[row])
        first_chunk[row_doc[row]] = ids[row]
    model.fit(doc_vecs, ["\n".join(g) for g in grouped], first_chunk)
    coords = model.coords_[row_doc] if model.coords_ is not None else None
    return model.labels_[row_doc], coords


def fit_index_topics(
    store: TopicStore, model: TopicModel | None = None, *, level: str = "chunk", write_meta: bool = True
) -> IndexTopics:
    """Fit topics on the stored vectors (nothing is embedded), write metadata and save the artifact.

    Args:
        store: an open index.
        model: an unfitted :class:`TopicModel` (default ``TopicModel()``).
        level: "chunk" clusters chunk vectors; "doc" clusters each document's mean chunk vector.
        write_meta: set ``topic_id``/``topic`` on every chunk and document (document = majority of
            its chunks), so search can filter to one topic.

    Raises:
        IndexNotFoundError: the index holds no vectors.
        ConfigError: an unknown level.
    """
    if level not in LEVELS:
        raise ConfigError(f"unknown topic level {level!r}: use one of {', '.join(LEVELS)}")
    model = model or TopicModel()
    ids, vectors = store.vectors()
    if len(ids) == 0:
        raise IndexNotFoundError("the index holds no chunks yet: add documents with `sift index PATH` first")
    records = store.get_chunks(ids.tolist())
    if len(records) != len(ids):
        raise SiftError(f"the index lists {len(ids)} vectors but {len(records)} chunks: rebuild it with `sift index`")
    texts = [f"{r.title}\n{r.text}" for r in records]
    doc_ids = [r.doc_id for r in records]
    if level == "chunk":
        model.fit(vectors, texts, ids)
        chunk_topics, coords = model.labels_, model.coords_
    else:
        chunk_topics, coords = _fit_documents(model, ids, vectors, texts, doc_ids)
    model.params["level"] = level
    if write_meta:
        _write_meta(store, model, ids, doc_ids, chunk_topics)
    result = IndexTopics(model, ids, chunk_topics, coords, level, store.generation, recomputed=True)
    store.put_artifact(ARTIFACT, _to_bytes(result))
    return result


def _write_meta(store: TopicStore, model: TopicModel, ids: np.ndarray, doc_ids: list[str], topics: np.ndarray) -> None:
    labels = {t.id: t.label for t in model.topics_}
    labels.setdefault(-1, OUTLIER_LABEL)
    chunk_meta = {int(i): {ID_KEY: int(t), LABEL_KEY: labels[int(t)]} for i, t in zip(ids, topics, strict=True)}
    doc_meta = {d: {ID_KEY: t, LABEL_KEY: labels[t]} for d, t in majority_topic(doc_ids, topics).items()}
    store.update_meta(chunk_meta=chunk_meta, doc_meta=doc_meta)


def load_index_topics(store: TopicStore) -> IndexTopics | None:
    """The saved topics (``stale`` set when the index changed since), or None when none are saved."""
    refresh = getattr(store, "refresh", None)
    if callable(refresh):  # pick up writes from other processes before comparing generations
        refresh()
    saved = store.get_artifact(ARTIFACT)
    if saved is None:
        return None
    generation, payload = saved
    result = _from_bytes(payload, generation)
    result.stale = generation != store.generation
    return result


def labeler_identity(labeler: Labeler | None, name: str | None = None) -> str | None:
    """What saved topics record about how they were labelled: None for the default labeler, else a name.

    The name is ``name`` when given, else the labeler's own ``name`` attribute; a function's
    ``__name__`` is not used (two lambdas, or two prompts behind one function, would look alike).

    Raises:
        ConfigError: a labeler with no name to tell it apart.

    Example:
        >>> labeler_identity(None), labeler_identity(lambda kw, texts: kw[0], name="first-keyword")
        (None, 'first-keyword')
    """
    if labeler is None:
        return None
    identity = name if name is not None else getattr(labeler, "name", None)
    if not isinstance(identity, str) or not identity.strip():
        raise ConfigError(
            f"labeler {labeler!r} has no name: give it a `name` attribute or pass labeler_name=, saying how it "
            "labels (e.g. 'llm:qwen2.5-1.5b'); saved topics are reused only for the same name"
        )
    return identity.strip()


def index_topics(
    store: TopicStore,
    *,
    n_topics: int | None = None,
    min_cluster_size: int | None = None,
    seed: int | None = 0,
    level: str = "chunk",
    labeler: Labeler | None = None,
    labeler_name: str | None = None,
    refresh: bool = True,
    allow_stale: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IndexTopics:
    """Saved topics when they are fresh and were made with the same options; otherwise fit anew.

    Args:
        n_topics / min_cluster_size / seed: see :meth:`TopicModel.from_options`.
        level: "chunk" or "doc".
        labeler: ``labeler(keywords, texts) -> label``; saved topics are reused only when they were
            labelled by the same one, told apart by :func:`labeler_identity` (topics saved without
            one were labelled by the default).
        labeler_name: the labeler's identity when it has no ``name`` attribute.
        refresh: False → never fit: return what is saved.
        allow_stale: with ``refresh`` False, return stale topics (``stale`` set) instead of raising.
        progress: called with each fitting stage's name (see :class:`TopicModel`).

    Raises:
        StaleTopicsError: ``refresh`` and ``allow_stale`` are False and the saved topics are stale.
        SiftError: ``refresh`` is False and nothing is saved.
        ConfigError: a labeler without a name.
    """
    wanted = {
        "seed": seed,
        "n_topics": n_topics,
        "min_cluster_size": min_cluster_size,
        "level": level,
        "labeler": labeler_identity(labeler, labeler_name),
    }
    saved = load_index_topics(store)
    if not refresh:
        if saved is None:
            raise SiftError("no topics saved with this index: run `sift topics` to compute them")
        if saved.stale and not allow_stale:
            raise StaleTopicsError(
                f"saved topics are from index generation {saved.generation}, the index is now at "
                f"{store.generation}: run `sift topics` without --no-refresh to recompute them"
            )
        return saved
    if saved is not None and not saved.stale and all(saved.model.params.get(k) == v for k, v in wanted.items()):
        return saved
    options = {"n_topics": n_topics, "min_cluster_size": min_cluster_size, "seed": seed}
    model = TopicModel.from_options(**options, labeler=labeler, progress=progress)
    model.params["labeler"] = wanted["labeler"]
    return fit_index_topics(store, model, level=level)


def _to_bytes(result: IndexTopics) -> bytes:
    buf = io.BytesIO()
    coords = result.coords if result.coords is not None else np.zeros((0, 2), dtype=np.float32)
    model = np.frombuffer(result.model.to_bytes(), dtype=np.uint8)
    info = json.dumps({"level": result.level})
    np.savez(
        buf,
        model=model,
        chunk_ids=result.chunk_ids,
        chunk_topics=result.chunk_topics,
        coords=coords,
        info=info,
    )
    return buf.getvalue()


def _from_bytes(payload: bytes, generation: int) -> IndexTopics:
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            model = TopicModel.from_bytes(data["model"].tobytes())
            ids, topics, coords = data["chunk_ids"], data["chunk_topics"], data["coords"]
            info = json.loads(str(data["info"]))
    except (OSError, KeyError, ValueError) as exc:
        raise SiftError(f"the saved topics are unreadable ({exc}): run `sift topics` to recompute them") from exc
    return IndexTopics(model, ids, topics, coords if len(coords) else None, info["level"], generation)
