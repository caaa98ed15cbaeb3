"""What one server process holds: its Workspace and settings.

Requests share the one Workspace without a lock of their own: every search reads one committed
generation of the store (``Store.snapshot``), a write (upload, sync, delete) builds the next one on the
writer's connection and a copy of the vectors and serves it only once committed, and writers queue on
the index's write lock. So a long sync never blocks a search, and generations committed by other
processes (``sift index``, ``sift watch``) are read by the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.ui.uploads import MAX_UPLOAD_MB  # one uploaded file, as on the Library page
from app.workspace import Workspace

MAX_JSON_BYTES = 1 << 20  # a JSON request body: 1 MiB is far beyond any query, label set or batch of texts


@dataclass
class ServerState:
    """The Workspace a server answers from, and how it may be used.

    Attributes:
        workspace: the index and models every route calls.
        api_key: the bearer token clients must send (None: no key asked, loopback only).
        upload_dir: where uploaded files are saved before they are indexed.
        preset: the generator preset for answers (None: the default).
        max_json_bytes / max_upload_mb: request size limits (413 beyond them).
    """

    workspace: Workspace
    api_key: str | None = None
    upload_dir: Path | None = None
    preset: str | None = None
    max_json_bytes: int = MAX_JSON_BYTES
    max_upload_mb: int = MAX_UPLOAD_MB
