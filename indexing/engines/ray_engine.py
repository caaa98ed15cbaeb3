"""The Ray engine: files load in Ray tasks, documents are chunked and embedded by a pool of embedder actors.

Both steps are Ray Data pipelines (``map_batches``); the vectors stream back to this process, the
single writer, which commits each write group as soon as all its documents are back, in the same
order and transactions as the local engine. Each actor builds the driver's model from its
constructor arguments (``Embedder(model, device=, batch_size=, quantize=)``) and runs the very same
:class:`~indexing.engines.embedding.ChunkEmbedder`, so chunks, offsets and vectors match the local build.

Pool size: one actor per GPU where the cluster has GPUs; on a CPU-only cluster one actor per
``CPUS_PER_WORKER`` CPUs (at least one), each running torch on its share of the CPUs.
``SIFT_RAY_WORKERS=N`` sets the pool size. Actors that die are restarted and their batch is retried
(``max_restarts`` = ``max_task_retries`` = ``ACTOR_RESTARTS``); loader tasks are retried ``TASK_RETRIES`` times.
``SIFT_RAY_FAULT=MARKER`` (fault tests only) makes the first actor to get a batch exit, once per
marker file. Files are read where the tasks run: on a multi-node cluster every node must see the
same paths (a shared file system) and have sift and its model installed.

Example:
    >>> engine = RayEngine(Embedder(), ChunkerConfig(), LoadOptions(), address="auto")   # doctest: +SKIP
    >>> with engine:                                                                   # doctest: +SKIP
    ...     [docs] = engine.load([FoundFile(Path("/shared/docs/cats.md"), True)])
    ...     [done] = engine.embed([docs], leads=2)
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import socket
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from indexing.chunker import ChunkerConfig
from indexing.datatypes import Document
from indexing.embedder import Embedder
from indexing.engines.embedding import Embedded
from indexing.engines.protocol import Progress
from indexing.engines.ray_tasks import EmbedWorker, load_batch
from indexing.env import env_text, parse_int
from indexing.errors import EngineUnavailableError, SiftError
from indexing.loaders import LoadOptions
from indexing.loaders.files import FoundFile
from indexing.report import FileEntry

FAULT_ENV = "SIFT_RAY_FAULT"  # a marker file path: the first actor to get a batch exits once (fault tests)
WORKERS_ENV = "SIFT_RAY_WORKERS"  # embedder actors in the pool (default: see module docstring)
CPUS_PER_WORKER = 4  # CPU-only cluster: one embedder actor per this many CPUs
DOCS_PER_BATCH = 256  # documents per actor call (CPU); GPUs get GPU_DOCS_PER_BATCH
GPU_DOCS_PER_BATCH = 1024
FILES_PER_TASK = 4  # files per loader task
TASK_RETRIES = 3  # loader task retries after its worker dies (Ray Data's default: without end)
ACTOR_RESTARTS = 3  # embedder actor restarts, each retrying its batch (Ray Data's default: without end)
# Ray runs its workers at nice 15 by default; in the local cluster sift starts, the workers do all of the
# indexing, and at nice 15 any other busy process on the machine starves them (measured beside two busy
# loops: a few per cent of a core each). They run at the caller's priority instead.
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}
CONNECT_TIMEOUT_S = 5.0  # probe of HOST:PORT before ray.init, which would retry for minutes


@dataclass(frozen=True)
class _Plan:
    """How the embedder pool is placed."""

    workers: int
    num_cpus: float
    num_gpus: float
    threads: int | None  # torch threads per actor (CPU); None: torch's default
    batch: int


def ray_workers() -> int | None:
    """Embedder actors asked for with ``SIFT_RAY_WORKERS``; None (unset) lets :meth:`RayEngine._plan` choose.

    Raises:
        ConfigError: ``SIFT_RAY_WORKERS`` is not a whole number ≥ 1.

    Example:
        >>> ray_workers() is None       # unset
        True
    """
    value = env_text(WORKERS_ENV)
    return None if value is None else parse_int(value, WORKERS_ENV, minimum=1)


class RayEngine:
    """Load, chunk and embed on a Ray cluster; the caller (the driver) writes.

    Args:
        embedder: the driver's model; actors build their own from its settings.
        chunking: chunk sizes.
        options: loader options.
        address: ``"auto"``, ``"HOST:PORT"`` (or ``ray://HOST:PORT``) of a running cluster; None starts a
            local Ray for this sync and stops it afterwards.
        workers: embedder actors (default: ``SIFT_RAY_WORKERS``, else one per GPU or per 4 CPUs).

    Raises:
        EngineUnavailableError: Ray is not installed (here); the cluster cannot be reached (on first use).
    """

    name = "ray"

    def __init__(
        self, embedder: Embedder, chunking: ChunkerConfig, options: LoadOptions, address: str | None = None,
        workers: int | None = None,
    ) -> None:
        if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.data") is None:
            raise EngineUnavailableError(
                "--engine ray needs Ray Data: install it with `pip install 'ray[data]>=2.9'`, "
                "or index with --engine local (the default); nothing was changed"
            )
        if workers is not None and workers < 1:
            raise EngineUnavailableError(f"workers={workers}: the Ray engine needs at least 1 worker")
        self.workers = workers if workers is not None else ray_workers()
        self.embedder = embedder
        self.chunking = chunking
        self.options = options
        self.address = address
        self._ray: ModuleType | None = None
        self._started = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local Ray this engine started; a cluster it only connected to keeps running."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    def _connect(self) -> ModuleType:
        """Ray, initialized: the running session, the cluster at ``address``, or a new local instance."""
        if self._ray is not None:
            return self._ray
        import ray
        import ray.data

        if not ray.is_initialized():
            if self.address not in (None, "auto"):
                _probe(self.address)
            try:
                if self.address is None:
                    start_local_ray(os.cpu_count())
                else:
                    ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise _unreachable(self.address, str(exc)) from exc
            self._started = self.address is None
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the caller's progress callback reports; no notice that they are off
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        self._ray = ray
        return ray

    def load(self, files: Sequence[FoundFile]) -> list[list[Document] | FileEntry]:
        """Each file's documents, or its entry when it cannot be read, in the order given (read in Ray tasks)."""
        if not files:
            return []
        ray = self._connect()
        rows = [{"i": n, "file": pickle.dumps(found)} for n, found in enumerate(files)]
        with _retry_args():
            ds = _from_items(ray, rows, FILES_PER_TASK).map_batches(
                load_batch, batch_size=FILES_PER_TASK, batch_format="numpy", fn_kwargs={"options": self.options},
                num_cpus=1, max_retries=TASK_RETRIES,
            )
        out: dict[int, list[Document] | FileEntry] = {}
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            out.update((int(i), pickle.loads(b)) for i, b in zip(batch["i"], batch["out"], strict=True))
        _check_complete(len(out), len(files), "files")
        return [out[n] for n in range(len(files))]

    def embed(
        self, groups: Sequence[Sequence[Document]], leads: int, progress: Progress | None = None
    ) -> Iterator[Embedded]:
        """One :class:`Embedded` per group, in order, each yielded as soon as all its documents are back."""
        docs = [d for group in groups for d in group]
        bounds = np.cumsum([0] + [len(group) for group in groups])
        dim = self.embedder.dimension
        if not docs:
            yield from (_assemble([], dim) for _ in groups)
            return
        ray = self._connect()
        plan = self._plan(ray)
        rows = [{"i": n, "doc": pickle.dumps(doc)} for n, doc in enumerate(docs)]
        with _retry_args():
            ds = _from_items(ray, rows, plan.batch).map_batches(
                EmbedWorker, batch_size=plan.batch, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=plan.workers),
                fn_constructor_kwargs=self._worker_settings(plan, leads),
                num_cpus=plan.num_cpus, num_gpus=plan.num_gpus,
                max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS,
            )
        batches = ds.iter_batches(batch_size=None, batch_format="numpy")
        yield from _in_groups(batches, bounds, dim, progress)

    def _worker_settings(self, plan: _Plan, leads: int) -> dict[str, Any]:
        emb = self.embedder
        return {
            "model": emb.requested, "device": emb.device, "batch_size": emb.batch_size,
            "quantize": getattr(emb, "quantize", "none"),
            "chunking": (self.chunking.chunk_size, self.chunking.chunk_overlap), "leads": leads,
            "threads": plan.threads, "fault_marker": env_text(FAULT_ENV),
        }

    def _plan(self, ray: ModuleType) -> _Plan:
        """One actor per GPU (when the model may use one), else one per CPUS_PER_WORKER CPUs."""
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        device = self.embedder.device
        if gpus >= 1 and (device is None or str(device).startswith("cuda")):
            workers = self.workers or int(gpus)
            return _Plan(workers, 1, min(1.0, gpus / workers), None, GPU_DOCS_PER_BATCH)
        if device is not None and str(device).startswith("cuda"):
            raise EngineUnavailableError(
                f"the embedder asks for device {device!r} but the Ray cluster has no GPU: "
                "use device cpu, or a --ray-address whose cluster has GPUs"
            )
        cpus = int(resources.get("CPU", 1))
        nodes = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        smallest = min([c for c in nodes if c > 0] or [cpus])
        workers = self.workers or max(1, cpus // CPUS_PER_WORKER)
        share = max(1, min(cpus // workers, smallest))
        return _Plan(workers, share if workers * share <= cpus else cpus / workers, 0, share, DOCS_PER_BATCH)


@contextmanager
def _retry_args() -> Iterator[None]:
    """Pass bounded retry counts as Ray remote args without Ray Data >= 2.60's deprecation warning for them.

    Why bounded: a file or document that crashes its worker every time must fail the sync, not retry it
    forever (Ray Data's default); Ray Data 2.60 has no named parameter for these counts yet.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`ray_remote_args` is deprecated")
        yield


def _from_items(ray: ModuleType, rows: list[dict[str, Any]], per_block: int) -> Any:
    """A dataset of ``rows`` in blocks of about ``per_block`` rows (so batches are not re-split or merged)."""
    import inspect

    blocks = max(1, -(-len(rows) // per_block))
    name = "override_num_blocks" if "override_num_blocks" in inspect.signature(ray.data.from_items).parameters \
        else "parallelism"  # Ray < 2.10
    return ray.data.from_items(rows, **{name: blocks})


def _in_groups(
    batches: Iterable[dict[str, np.ndarray]], bounds: np.ndarray, dim: int, progress: Progress | None
) -> Iterator[Embedded]:
    """Collect per-document results arriving in any order; yield each group once all its documents are back."""
    total = int(bounds[-1])
    got: dict[int, bytes] = {}
    seen = np.zeros(total, dtype=bool)
    ready = group = 0  # documents [0, ready) are all back; groups before `group` are yielded
    for batch in batches:
        for i, out in zip(batch["i"], batch["out"], strict=True):
            if not seen[int(i)]:  # a retried batch never yields twice in Ray Data; guard anyway
                seen[int(i)] = True
                got[int(i)] = out
        while ready < total and seen[ready]:
            ready += 1
        if progress is not None:
            progress("embedding documents", int(seen.sum()), total)
        while group < len(bounds) - 1 and bounds[group + 1] <= ready:
            yield _assemble([pickle.loads(got.pop(n)) for n in range(bounds[group], bounds[group + 1])], dim)
            group += 1
    _check_complete(int(seen.sum()), total, "documents")
    while group < len(bounds) - 1:  # empty groups at the end
        yield _assemble([], dim)
        group += 1


def _assemble(parts: list[tuple[list, np.ndarray, np.ndarray | None]], dim: int) -> Embedded:
    """An :class:`Embedded` from per-document (chunks, vectors, lead vector or None)."""
    chunks = [p[0] for p in parts]
    vectors = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, dim), dtype=np.float32)
    starts = np.cumsum([0] + [len(c) for c in chunks])
    leads = {n: p[2] for n, p in enumerate(parts) if p[2] is not None}
    return Embedded(chunks, np.ascontiguousarray(vectors, dtype=np.float32), starts, leads)


def _check_complete(got: int, wanted: int, what: str) -> None:
    if got != wanted:
        raise SiftError(f"the Ray cluster returned {got} of {wanted} {what}: run the sync again (nothing was lost)")


def start_local_ray(num_cpus: int | None) -> None:
    """Start a Ray cluster on this machine with ``num_cpus`` CPUs, its workers at the caller's priority
    (:data:`LOCAL_SYSTEM_CONFIG`), no dashboard, quiet."""
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
             _system_config=LOCAL_SYSTEM_CONFIG)


def _probe(address: str) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (ray.init itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineUnavailableError(f"--ray-address {address!r} is not auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc)) from exc


def _unreachable(address: str | None, why: str) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"cannot reach a Ray cluster at --ray-address {address or '(local)'} ({why.splitlines()[0] if why else '?'}): "
        "start one with `ray start --head` (then --ray-address auto, or HEAD:6379 from another machine), "
        "or leave --ray-address out to start a local Ray; nothing was changed"
    )
