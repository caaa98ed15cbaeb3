"""The vectors of one immutable segment: id-sorted float32 unit rows and one search structure (flat/HNSW/IVF-PQ).

A segment directory holds ``segment.json`` (format, kind, dimension, rows), ``ids.npy`` (int64, strictly
ascending), ``vectors.npy`` ((rows, dimension) float32, row i belongs to ``ids[i]``) and, for the ANN kinds,
``ann.faiss``. Every FAISS structure is keyed by row number and mapped back through ``ids``.

* ``flat``: the rows live in a ``faiss.IndexFlatIP`` (resident); results are exact.
* ``hnsw`` / ``ivf-pq`` (:mod:`indexing.store.ann`): only the ANN structure is resident; ``vectors.npy`` is
  memory-mapped. The structure proposes ``max(100, 10 * fetch)`` candidates, which are re-scored exactly from
  the mapped rows, so every returned score is the exact inner product.

Filters and tombstones work in row space (``np.searchsorted`` on the sorted ids; ids not held are ignored):

* ``allowed`` of at most ``BRUTE_FORCE_ROWS`` live rows: those rows are gathered and scored by one matmul,
  exact for every kind (an ANN walk under a selective filter loses recall).
* larger ``allowed`` sets: a FAISS selector over the allowed live rows (``IDSelectorBatch`` when few, an
  ``IDSelectorBitmap`` over row numbers when more than 1/64 of the rows), with the same candidate over-fetch;
  flat too uses the selector above the threshold (gathering rows costs more than scanning them).
* ``dead``: flat over-fetches ``fetch + len(dead rows)`` and drops them while at most ``DEAD_OVERFETCH_MAX``;
  beyond that, and always for ANN kinds, ``IDSelectorNot`` of the dead rows' selector, which never returns a
  dead id and keeps the result count fixed however many tombstones pile up before a merge.

The measurements behind each threshold: ``docs/decisions/vector-indexes.md``.

Batches of fewer than ``ann.SMALL_BATCH`` queries run on one OpenMP thread (under ``ann.OMP_LOCK``): for one query
thread barrier costs more than the work on a busy 2-core machine.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((6, 4)).astype(np.float32)
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> seg = VectorSegment.build(np.array([50, 10, 40, 20, 30, 60]), x, "flat")
    >>> seg.ids.tolist()
    [10, 20, 30, 40, 50, 60]
    >>> scores, ids = seg.search(x[:1], 3, dead=np.array([50]))
    >>> 50 in ids[0].tolist(), ids.shape
    (False, (1, 3))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from indexing.errors import ConfigError, IndexCorruptError
from indexing.manifest import VECTOR_INDEXES
from indexing.store import ann
from indexing.store.ann import threads_for
from indexing.store.files import atomic_write_dir

KINDS = ("flat", "hnsw", "ivf-pq")
POLICIES = VECTOR_INDEXES  # the manifest's policies: "auto" or a kind
AUTO_FLAT_BELOW = 200_000  # policy "auto": flat below this many vectors
AUTO_ANN_KIND = "ivf-pq"  # above it: IVF-PQ (see choose_kind for the measurements behind this)
MIN_ANN_ROWS = 10_000  # an explicit ANN kind on fewer rows -> flat: 8-bit PQ codebooks need 256 x 39 rows to train
BRUTE_FORCE_ROWS = 20_000  # allowed live rows at or below which a filtered search scores them all exactly
DEAD_OVERFETCH_MAX = 4_096  # flat: up to this many dead rows are over-fetched and dropped, not selected out
FORMAT = 1


def choose_kind(policy: str, rows: int) -> str:
    """The concrete kind for a segment of ``rows`` vectors under ``policy``.

    ``auto`` is flat below ``AUTO_FLAT_BELOW`` and IVF-PQ above it: IVF-PQ needs a tenth of HNSW's memory at
    the same recall, and memory is what grows with the corpus (``docs/decisions/vector-indexes.md``).
    An explicit ANN kind on fewer than
    ``MIN_ANN_ROWS`` rows gives flat: too few rows to train PQ codebooks, and flat is fast there anyway.

    Raises:
        ConfigError: ``policy`` is not one of ``POLICIES``.

    Example:
        >>> [choose_kind(p, n) for p, n in [("auto", 5_000), ("auto", 500_000), ("hnsw", 500), ("hnsw", 50_000)]]
        ['flat', 'ivf-pq', 'flat', 'hnsw']
    """
    if policy not in POLICIES:
        raise ConfigError(f"vector index policy {policy!r} is not one of {POLICIES}")
    if policy == "auto":
        return "flat" if rows < AUTO_FLAT_BELOW else AUTO_ANN_KIND
    return "flat" if rows < MIN_ANN_ROWS else policy


class VectorSegment:
    """Vectors of one immutable segment: sorted ids, float32 unit rows, and a search structure of one kind."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, kind: str, index: faiss.Index, ann_bytes: int) -> None:
        # Use build() or load(); this only assembles validated parts.
        self.ids = ids
        self.kind = kind
        self.dimension = int(vectors.shape[1])
        self._vectors = vectors
        self._index = index
        self._ann_bytes = ann_bytes

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, kind: str) -> VectorSegment:
        """A segment over ``vectors`` (n, d) float32 unit rows with int64 ``ids`` (n,), rows sorted by id.

        Raises:
            ValueError: unknown kind, shapes that disagree, non-finite values, duplicate ids, or an ANN kind
                on fewer than 2 rows.
        """
        if kind not in KINDS:
            raise ValueError(f"segment kind {kind!r} is not one of {KINDS}; choose_kind() maps a policy to one")
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if ids.ndim != 1 or vectors.ndim != 2 or len(ids) != len(vectors):
            raise ValueError(f"ids (n,) and vectors (n, d) must agree, got {ids.shape} and {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or infinite values")
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], np.ascontiguousarray(vectors[order])
        if len(ids) > 1 and not (np.diff(ids) > 0).all():
            raise ValueError(f"duplicate ids in a segment, e.g. {int(ids[1:][np.diff(ids) == 0][0])}")
        if kind == "flat":
            return cls._flat(ids, vectors)
        index = ann.build_ann(vectors, kind)
        return cls(ids, vectors, kind, index, ann.ann_nbytes(index))

    @classmethod
    def _flat(cls, ids: np.ndarray, vectors: np.ndarray) -> VectorSegment:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls._wrap_flat(ids, index)

    @classmethod
    def _wrap_flat(cls, ids: np.ndarray, index: faiss.IndexFlatIP) -> VectorSegment:
        # Keep one copy: the segment's rows are a view of the FAISS index's own storage.
        size = len(ids) * index.d
        view = faiss.rev_swig_ptr(index.get_xb(), size) if len(ids) else np.zeros(0, np.float32)
        return cls(ids, np.asarray(view).reshape(len(ids), index.d), "flat", index, 0)

    def save(self, path: Path) -> None:
        """Write the segment into directory ``path`` crash-safely (temp dir, fsync, rename).

        ANN kinds then memory-map their rows from the saved ``vectors.npy`` instead of holding them, as
        :meth:`load` does: a segment directory is immutable and only ever replaced by rename (a file
        truncated in place under a live map faults the reader with SIGBUS).
        """

        def write(tmp: Path) -> None:
            np.save(tmp / "ids.npy", self.ids)
            np.save(tmp / "vectors.npy", self._vectors)
            if self.kind != "flat":
                faiss.write_index(self._index, str(tmp / "ann.faiss"))
            meta = {"format": FORMAT, "kind": self.kind, "dimension": self.dimension, "rows": self.rows}
            (tmp / "segment.json").write_text(json.dumps(meta))

        atomic_write_dir(path, write)
        if self.kind != "flat":
            self._vectors = np.load(path / "vectors.npy", mmap_mode="r")

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorSegment:
        """Open a segment written by :meth:`save`.

        Raises:
            IndexCorruptError: a file is missing, torn or disagrees (kind, rows, dimension); names the file.
        """
        meta_path = path / "segment.json"
        try:
            meta = json.loads(meta_path.read_text())
            kind, rows, stored_dim = meta["kind"], int(meta["rows"]), int(meta["dimension"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{meta_path}: missing or unreadable ({exc}); rebuild the index") from exc
        if kind not in KINDS or meta.get("format") != FORMAT:
            raise IndexCorruptError(f"{meta_path}: unknown kind {kind!r} or format {meta.get('format')!r}")
        if stored_dim != dimension:
            raise IndexCorruptError(f"{meta_path}: dimension {stored_dim}, the index expects {dimension}")
        ids = _load_array(path / "ids.npy", np.int64, (rows,), mmap=False)
        if rows > 1 and not (np.diff(ids) > 0).all():
            raise IndexCorruptError(f"{path / 'ids.npy'}: ids are not strictly ascending; rebuild the index")
        vectors = _load_array(path / "vectors.npy", np.float32, (rows, dimension), mmap=kind != "flat")
        if kind == "flat":
            return cls._flat(ids, vectors)
        ann_path = path / "ann.faiss"
        try:
            index = faiss.read_index(str(ann_path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{ann_path}: missing or unreadable ({exc}); rebuild the index") from exc
        if index.ntotal != rows or index.d != dimension:
            raise IndexCorruptError(f"{ann_path}: holds {index.ntotal} x {index.d}, expected {rows} x {dimension}")
        return cls(ids, vectors, kind, index, ann_path.stat().st_size)

    @property
    def rows(self) -> int:
        """How many vectors the segment holds."""
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Bytes resident for search: the ids plus the float32 rows (flat) or the ANN structure (ANN kinds)."""
        return int(self.ids.nbytes) + (int(self._vectors.nbytes) if self.kind == "flat" else self._ann_bytes)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Bool mask (n,): which of ``ids`` this segment holds."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.ids, ids), max(self.rows - 1, 0))
        return self.ids[pos] == ids if self.rows else np.zeros(len(ids), dtype=bool)

    def _rows_of(self, ids: np.ndarray | None) -> np.ndarray:
        """Sorted unique row numbers of those ``ids`` this segment holds."""
        wanted = np.unique(np.asarray(ids if ids is not None else [], dtype=np.int64))
        return np.searchsorted(self.ids, wanted[self.contains(wanted)])

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored rows of ``ids``, (n, d) float32, in the order asked.

        Raises:
            KeyError: an id this segment does not hold (the first one is named).
        """
        ids = np.asarray(ids, dtype=np.int64)
        held = self.contains(ids)
        if not held.all():
            raise KeyError(f"id {int(ids[~held][0])} is not in this segment")
        return np.array(self._vectors[np.searchsorted(self.ids, ids)], dtype=np.float32).reshape(len(ids), -1)

    def search(
        self, queries: np.ndarray, fetch: int, allowed: np.ndarray | None = None, dead: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``fetch`` rows per query by exact inner product.

        Args:
            queries: (q, d) float32 unit vectors.
            fetch: results per query (>= 1).
            allowed: if given, only these ids may be returned (ids not held are ignored).
            dead: ids never returned (tombstones; ids not held are ignored).

        Returns:
            scores (q, fetch) float32 and ids (q, fetch) int64, best first, padded with -inf / -1.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (q, {self.dimension}), got {queries.shape}")
        if fetch < 1:
            raise ValueError(f"fetch must be >= 1, got {fetch}")
        out_scores = np.full((len(queries), fetch), -np.inf, dtype=np.float32)
        out_ids = np.full((len(queries), fetch), -1, dtype=np.int64)
        dead_rows = self._rows_of(dead)
        selector = None
        if allowed is not None:
            live = np.setdiff1d(self._rows_of(allowed), dead_rows, assume_unique=True)
            if len(live) <= BRUTE_FORCE_ROWS:
                found = ann.top_k(queries @ self._vectors[live].T, live, fetch) if len(live) else None
                return self._emit(found, out_scores, out_ids)
            selector = self._selector(live)
        elif self.kind == "flat" and 0 < len(dead_rows) <= DEAD_OVERFETCH_MAX:
            with threads_for(len(queries)):
                scores, rows = self._index.search(queries, min(fetch + len(dead_rows), self.rows))
            scores[np.isin(rows, dead_rows)] = -np.inf  # at most len(dead) rows drop out, so fetch remain
            return self._emit(ann.top_k(scores, rows, fetch), out_scores, out_ids)
        elif len(dead_rows):
            selector = faiss.IDSelectorNot(self._selector(dead_rows))
        if self.rows == 0 or len(queries) == 0:
            return out_scores, out_ids
        with threads_for(len(queries)):
            found = self._index_search(queries, fetch, selector)
        return self._emit(found, out_scores, out_ids)

    def _selector(self, rows: np.ndarray) -> faiss.IDSelector:
        """Selector of these row numbers: a hash set when few, else a bitmap of rows / 8 bytes (O(1) lookups)."""
        if len(rows) * 64 <= self.rows:
            return faiss.IDSelectorBatch(len(rows), faiss.swig_ptr(rows))
        bits = np.zeros(self.rows, dtype=bool)
        bits[rows] = True
        packed = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed))
        selector.referenced_objects = [packed]  # FAISS keeps a raw pointer to the bitmap
        return selector

    def _index_search(
        self, queries: np.ndarray, fetch: int, selector: faiss.IDSelector | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "flat":
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            return self._index.search(queries, min(fetch, self.rows), params=params)
        wanted = min(ann.candidates(fetch), self.rows)
        params = ann.search_params(self._index, self.kind, wanted, selector)
        _, rows = self._index.search(queries, wanted, params=params)
        return ann.rescore(self._vectors, queries, rows, fetch)

    def _emit(
        self, found: tuple[np.ndarray, np.ndarray] | None, out_scores: np.ndarray, out_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if found is not None:  # (scores, row numbers) -> padded (scores, ids)
            scores, rows = found
            valid = (rows >= 0) & np.isfinite(scores)
            out_scores[:, : scores.shape[1]] = np.where(valid, scores, -np.inf)
            out_ids[:, : scores.shape[1]] = np.where(valid, self.ids[np.where(valid, rows, 0)], -1)
        return out_scores, out_ids

    @classmethod
    def merge(cls, parts: Sequence[VectorSegment], drop: np.ndarray | None, kind: str) -> VectorSegment:
        """Every row of ``parts`` except ids in ``drop``, rebuilt as one segment of ``kind``.

        Raises:
            ValueError: no parts, parts of different dimensions, or an id held by two parts.
        """
        if not parts:
            raise ValueError("merge needs at least one segment")
        if len({p.dimension for p in parts}) != 1:
            raise ValueError(f"cannot merge segments of dimensions {sorted({p.dimension for p in parts})}")
        drop_ids = np.asarray(drop if drop is not None else [], dtype=np.int64)
        kept = [np.flatnonzero(~np.isin(p.ids, drop_ids)) if len(drop_ids) else np.arange(p.rows) for p in parts]
        ids = np.concatenate([p.ids[k] for p, k in zip(parts, kept, strict=True)])
        dimension = parts[0].dimension
        if kind != "flat":
            rows = [np.asarray(p._vectors[k], dtype=np.float32) for p, k in zip(parts, kept, strict=True)]
            return cls.build(ids, np.concatenate(rows).reshape(-1, dimension), kind)
        # Flat: the rows go straight from the parts (already checked) into the new FAISS storage, in id order,
        # a block at a time: one copy instead of the four a concatenate-sort-build takes.
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        if len(ids) > 1 and not (np.diff(ids) > 0).all():
            raise ValueError(f"duplicate ids in a segment, e.g. {int(ids[1:][np.diff(ids) == 0][0])}")
        source = np.concatenate([np.full(len(k), n) for n, k in enumerate(kept)])[order]
        row = np.concatenate(kept)[order]
        index = faiss.IndexFlatIP(dimension)
        for start in range(0, len(ids), _MERGE_BLOCK):
            part_of, row_of = source[start : start + _MERGE_BLOCK], row[start : start + _MERGE_BLOCK]
            block = np.empty((len(row_of), dimension), dtype=np.float32)
            for n in np.unique(part_of):
                at = part_of == n
                block[at] = parts[n]._vectors[row_of[at]]
            index.add(block)
        return cls._wrap_flat(ids, index)


_MERGE_BLOCK = 65_536  # rows gathered per FAISS add in a flat merge


def _load_array(path: Path, dtype: type, shape: tuple[int, ...], *, mmap: bool) -> np.ndarray:
    """``np.load`` a segment file, checking dtype and shape; IndexCorruptError naming the file otherwise."""
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexCorruptError(f"{path}: missing or torn ({exc}); rebuild the index") from exc
    if arr.dtype != dtype or arr.shape != shape:
        raise IndexCorruptError(f"{path}: holds {arr.dtype} {arr.shape}, expected {np.dtype(dtype)} {shape}")
    return arr
