"""The zip-bomb check caps an archive's total inflated size, not only each member's: a real .docx whose
members are each under MAX_MEMBER_BYTES but add up past MAX_TOTAL_BYTES is refused by name, unread."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document as DocxDocument

from indexing.errors import LoaderError
from indexing.loaders import load_file
from indexing.loaders.common import MAX_MEMBER_BYTES, MAX_RATIO, MAX_TOTAL_BYTES

PART = 6 << 20  # each padding member: under the member cap


def _docx(path: Path, padding_members: int) -> Path:
    """A real Word document saying "Alpacas hum", plus ``padding_members`` members of PART zero bytes each."""
    buffer = io.BytesIO()
    doc = DocxDocument()
    doc.add_paragraph("Alpacas hum when they are curious.")
    doc.save(buffer)
    source = zipfile.ZipFile(buffer)
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        for n in range(padding_members):
            with archive.open(f"customXml/pad{n}.bin", "w") as handle:
                for _ in range(PART >> 20):
                    handle.write(zeros)
    return path


def test_the_caps_are_ordered() -> None:
    assert PART < MAX_MEMBER_BYTES < MAX_TOTAL_BYTES


def test_members_each_under_the_cap_but_over_the_total_are_refused_by_name(tmp_path: Path) -> None:
    count = MAX_TOTAL_BYTES // PART + 1  # 11 x 6 MiB = 66 MiB > 64 MiB
    path = _docx(tmp_path / "many-parts.docx", count)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert max(i.file_size for i in infos) < MAX_MEMBER_BYTES, "no member alone trips the member cap"
    total, packed = sum(i.file_size for i in infos), sum(i.compress_size for i in infos)
    assert total > MAX_TOTAL_BYTES and total > MAX_RATIO * packed
    with pytest.raises(LoaderError) as caught:
        load_file(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and f"members inflate {total >> 20} MiB in all" in message
    assert "zip bomb" in message and caught.value.status == "failed"


def test_the_same_document_under_the_total_is_read(tmp_path: Path) -> None:
    path = _docx(tmp_path / "some-parts.docx", MAX_TOTAL_BYTES // PART - 1)  # 9 x 6 MiB = 54 MiB
    (doc,) = load_file(path)
    assert "Alpacas hum" in doc.text
