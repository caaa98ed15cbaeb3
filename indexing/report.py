"""What a sync did (or, with --dry-run, would do)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SyncReport:
    """Counts are documents; ``skipped`` lists files with the reason.

    Attributes:
        added / updated / removed / unchanged: document ids in each state.
        skipped: (file, reason) for files that could not be read; anything they had indexed before is kept.
        files_seen: files considered under the given paths.
        chunks_embedded: chunks that went through the embedding model.
        leads_embedded: lead sentences embedded for lead vectors (:mod:`indexing.lead`).
        dry_run: nothing was written.
        seconds: wall time.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files_seen: int = 0
    chunks_embedded: int = 0
    leads_embedded: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """True when the index differs (or would differ) after this sync."""
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line, e.g. ``added 3, updated 1, removed 0, unchanged 10, skipped 1 (42 chunks embedded, 1.2 s)``."""
        verb = "would add" if self.dry_run else "added"
        leads = f" and {self.leads_embedded} leads" if self.leads_embedded else ""
        return (
            f"{verb} {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)} "
            f"({self.files_seen} files, {self.chunks_embedded} chunks{leads} embedded, {self.seconds:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: lists plus a ``counts`` object."""
        data = asdict(self)
        data["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        data["counts"] = {k: len(getattr(self, k)) for k in ("added", "updated", "removed", "unchanged", "skipped")}
        return data
