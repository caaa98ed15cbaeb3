"""A folder holding one file of each fate a sync can give (for the CLI and Library page tests)."""

from __future__ import annotations

import os
from pathlib import Path

AS_ROOT = os.geteuid() == 0  # root reads a chmod-000 file, so the folder has no unreadable one then
MIXED_STATUSES: dict[str, str] = {
    "good.md": "parsed", "empty.txt": "empty", "corrupt.pdf": "failed", "archive.gz": "unsupported",
    "pipe.txt": "failed", "broken.md": "failed", "loop.md": "failed",
} | ({} if AS_ROOT else {"secret.txt": "failed"})  # fmt: skip
"""File name → the status a sync must give it, for :func:`write_mixed_folder`."""


def write_mixed_folder(folder: Path) -> dict[str, str]:
    """Create ``folder`` with a readable, an empty, a corrupt and an unsupported file, a FIFO, a broken
    symlink, a symlink loop and (not as root) an unreadable file; returns :data:`MIXED_STATUSES`."""
    folder.mkdir(parents=True)
    (folder / "good.md").write_text("# Llamas\n\nLlamas are domesticated South American camelids.\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a PDF")
    (folder / "archive.gz").write_bytes(b"\x1f\x8b\x08\x00 not text")
    os.mkfifo(folder / "pipe.txt")
    (folder / "broken.md").symlink_to("nowhere.md")
    (folder / "loop.md").symlink_to("loop.md")
    if not AS_ROOT:
        (folder / "secret.txt").write_text("nobody may read this\n")
        (folder / "secret.txt").chmod(0)
    return dict(MIXED_STATUSES)
