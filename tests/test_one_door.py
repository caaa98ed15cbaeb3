"""The Workspace is the only door: no module outside ``indexing/store/`` and ``app/workspace.py`` reaches into a
store — its connection (``.conn``), BM25 (``._lexical``), FAISS object (``store.index``) — or through an object to
its store (``ws.store``). Checked on the syntax tree, so docstrings and comments that mention them do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["app", "pipelines", "bench", "streamlit_app.py"]
ALLOWED = {Path("app/workspace.py"), Path("app/analysis.py")}  # the Workspace and its analysis verbs
PRIVATE_TO_THE_STORE = {"conn", "_lexical"}
HOLDERS = {"store", "_store"}  # the attribute a Workspace or pipeline keeps its store under


def _name(node: ast.expr) -> str | None:
    """The last name of a receiver: ``store`` for ``store``, ``self._store`` or ``ws.store``."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(source: str) -> list[str]:
    """Each reach into a store in ``source``, as ``line: expression``.

    Example:
        >>> violations("hits = ws.store.get_chunks(ids)")
        ['1: ws.store']
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = _name(node.value)
        bad = (
            node.attr in PRIVATE_TO_THE_STORE
            or (node.attr in HOLDERS and owner != "self" and _root(node) != "indexing")
            or (node.attr == "index" and owner is not None and "store" in owner.lower())
        )
        if bad:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _modules() -> list[Path]:
    files: list[Path] = []
    for entry in SCANNED:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if f.relative_to(ROOT) not in ALLOWED]


def test_the_scan_covers_the_front_ends_pipelines_and_benchmarks() -> None:
    names = {str(f.relative_to(ROOT)) for f in _modules()}
    assert {"app/ui/topics_page.py", "app/cli/classify.py", "pipelines/retrieval_eval.py", "bench/bench_index.py",
            "streamlit_app.py"} <= names
    assert "app/workspace.py" not in names and not any(n.startswith("indexing/store/") for n in names)


def test_no_module_outside_the_store_and_the_workspace_reaches_into_a_store() -> None:
    found = {str(f.relative_to(ROOT)): v for f in _modules() if (v := violations(f.read_text(encoding="utf-8")))}
    assert found == {}, "use (or add) a Workspace verb instead: " + repr(found)


@pytest.mark.parametrize(
    "source,expected",
    [
        ("ws.store.vectors()", ["1: ws.store"]),
        ("store = ws.store", ["1: ws.store"]),
        ("rows = store.conn.execute(sql)", ["1: store.conn"]),
        ("store._lexical = None", ["1: store._lexical"]),
        ("n = store.index.ntotal", ["1: store.index"]),
        ("n = self._store.index.ntotal", ["1: self._store.index"]),
        ("Workspace(d).store.get_chunks([1])", ["1: Workspace(d).store"]),
        ("other._store.get_chunks([1])", ["1: other._store"]),
    ],
)
def test_the_check_catches_each_kind_of_reach(source: str, expected: list[str]) -> None:
    assert violations(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "from indexing.store import Store",
        "import indexing.store.records\nx = indexing.store.records.FILE_STATUSES",
        "hits = self._store.get_chunks(ids)",
        "ws.index([path]); plan.index; args.index",
        '"""Calls ws.store.get_chunks and store.conn in prose only."""',
        "ws.chunks(ids); ws.generation; ws.manifest",
    ],
)
def test_the_check_passes_public_verbs_imports_and_prose(source: str) -> None:
    assert violations(source) == []
