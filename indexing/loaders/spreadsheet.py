"""Excel (.xlsx) loader (openpyxl, read-only): one document per sheet, rows as ``a | b | c`` lines.

Why per sheet and not per row (as CSV is) or per file: a workbook is usually a report a person
made, whose sheets hold different things (a budget, a staff list, notes), so a search should land
on the sheet that matches, titled with it; a row alone ("Tea | 3") has no context to be found by,
and a CSV export of a table is still read per row by the CSV loader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of


def cell_text(value: Any) -> str:
    """A cell's value as a person reads it in Excel.

    Example:
        >>> [cell_text(v) for v in (None, 3.0, 2.5, True, dt.datetime(2024, 5, 1), " a  b ")]
        ['', '3', '2.5', 'TRUE', '2024-05-01', 'a b']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def rows_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as lines of their non-empty cells joined by ``" | "``; empty rows are dropped.

    Example:
        >>> rows_text([("Item", "Cost"), (None, None), ("Tea", 3)])
        'Item | Cost\\nTea | 3'
    """
    lines = []
    for row in rows:
        cells = [text for text in (cell_text(value) for value in row) if text]
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def load_xlsx(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load a workbook, one document per sheet that holds any value.

    Formulas give the value Excel last computed and saved; a formula never calculated (a file
    written by a script) has no value to read and is left out. openpyxl skips a sheet whose part is
    missing from the package; a workbook left with no sheet at all is reported as damaged.

    Args:
        path: the .xlsx file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        Documents in sheet order with ``id == f"{source}#sheet={name}"``, title
        ``"{workbook title or stem} / {sheet}"`` and ``meta == {"sheet": name}``.

    Raises:
        LoaderError: the file is not a readable workbook, or no sheet holds a value (status "empty").

    Example:
        ``budget.xlsx`` with sheet "2024" holding rows ("Item", "Cost"), ("Tea", 3) →
        ``[Document(id=".../budget.xlsx#sheet=2024", title="budget / 2024", text="Item | Cost\\nTea | 3")]``.
    """
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, lxml and openpyxl each raise their own types on damage
        raise fail(path, "not a readable Excel workbook", exc) from exc
    try:
        if not workbook.worksheets:  # openpyxl drops a sheet whose part is missing; Excel always writes one
            raise ValueError("it has no worksheets; the package is damaged")
        book = " ".join((workbook.properties.title or "").split()) or path.stem
        sheets = [(sheet.title, rows_text(sheet.iter_rows(values_only=True))) for sheet in workbook.worksheets]
    except Exception as exc:
        raise fail(path, "not a readable Excel workbook", exc) from exc
    finally:
        workbook.close()  # read-only mode keeps the file open until closed
    source = source_of(path)
    documents = [
        Document(id=f"{source}#sheet={name}", source=source, title=f"{book} / {name}", text=text, meta={"sheet": name})
        for name, text in sheets
        if text
    ]
    if not documents:
        raise fail(path, "no values in any sheet", status="empty")
    return documents
