"""What one server process holds: its Workspace, the folders and host names it serves, its limits, its watcher.

Requests share the one Workspace without a lock of their own: every search reads one committed
generation of the store (``Store.snapshot``), a write (upload, sync, delete) builds the next one on the
writer's connection and a copy of the vectors and serves it only once committed, and writers queue on
the index's write lock. So a long sync never blocks a search, and generations committed by other
processes (``sift index``, ``sift watch``) are read by the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.admission import DEFAULT_MAX_QUEUE, Admission, admission_for
from app.roots import Roots
from app.server.security import LOOPBACK_NAMES, served_hosts
from app.ui.uploads import MAX_UPLOAD_MB, default_upload_dir, upload_body_limit
from app.workspace import Workspace
from indexing.errors import ConfigError

if TYPE_CHECKING:
    from app.watch import Watcher

MAX_JSON_BYTES = 1 << 20  # a JSON request body: 1 MiB is far beyond any query, label set or batch of texts


@dataclass
class ServerState:
    """The Workspace a server answers from, and how it may be used.

    Attributes:
        workspace: the index and models every route calls.
        api_key: the bearer token clients must send (None: no key asked, loopback only).
        upload_dir: where uploaded files are saved before they are indexed (default: ``uploads/`` beside
            the index); always one of the roots.
        preset: the generator preset for answers (None: the default).
        max_json_bytes / max_upload_mb: request size limits (413 beyond them); ``max_upload_mb`` is the one
            upload limit, for the request cap and the per-file check alike.
        roots: the folders ``POST /v1/documents/sync`` may index (``--root``, ``--watch``); the upload
            folder is added at construction.
        allowed_hosts: host names the server answers to besides the loopback ones (``--allowed-host``,
            the ``--host`` address).
        watcher: the folder watcher of ``sift serve --watch``, whose failure ``/healthz`` reports.
        mcp: also serve the MCP tools at ``/mcp`` (``sift serve --mcp``, :mod:`app.mcp.mount`).
        max_queue: answers that may wait beside the one being generated (``--max-queue``); past them an ask
            gets 429 with ``Retry-After`` (:mod:`app.admission`).

    Raises:
        ConfigError: ``max_upload_mb`` is under 1, ``max_queue`` under 0, or an allowed host is not a plain
            host name.
    """

    workspace: Workspace
    api_key: str | None = None
    upload_dir: Path | None = None
    preset: str | None = None
    max_json_bytes: int = MAX_JSON_BYTES
    max_upload_mb: int = MAX_UPLOAD_MB
    roots: Roots = field(default_factory=Roots)
    allowed_hosts: tuple[str, ...] = ()
    watcher: Watcher | None = None
    mcp: bool = False
    max_queue: int = DEFAULT_MAX_QUEUE

    def __post_init__(self) -> None:
        if self.max_upload_mb < 1:
            raise ConfigError(f"--max-upload-mb {self.max_upload_mb} is below 1: give the largest upload in MB")
        admission_for(self.workspace, self.max_queue)  # checks the bound and sets it on the Workspace's gate
        folder = self.upload_dir or default_upload_dir(self.workspace.index_dir)
        self.upload_dir = Path(folder).expanduser().resolve()
        self.roots = self.roots.including(self.upload_dir)
        self.allowed_hosts = tuple(sorted(self.host_names - LOOPBACK_NAMES))  # checked and normalised

    @property
    def admission(self) -> Admission:
        """The queue every generating route takes a ticket from (the Workspace's, shared with MCP ``ask``)."""
        return admission_for(self.workspace)

    @property
    def host_names(self) -> frozenset[str]:
        """Every host name the server answers to: the loopback ones and :attr:`allowed_hosts`."""
        return served_hosts(self.allowed_hosts)

    @property
    def max_upload_bytes(self) -> int:
        """The request-size cap of an upload: one file of ``max_upload_mb`` MiB and its multipart framing."""
        return upload_body_limit(self.max_upload_mb)

    def health(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of ``/healthz``: 200 ``ok``, or 503 ``degraded`` while the watcher has failed.

        Example:
            ``(503, {"status": "degraded", "index": True, "watcher": {"running": False, "restarts": 3,
            "failure": "DatabaseError: file is not a database"}})`` once a watcher gave up.
        """
        body: dict[str, Any] = {"status": "ok", "index": self.workspace.exists()}
        if self.watcher is None:
            return 200, body
        watch = self.watcher.health()
        body["watcher"] = watch
        return (200, body) if watch["failure"] is None else (503, {**body, "status": "degraded"})
