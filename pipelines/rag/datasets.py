"""RAG evaluation sets: question/answer JSONL files and the Python FAQ.

The Python FAQ comes from Debian's ``python3.11-doc`` package (``apt-get download``, then
``dpkg-deb -x``); every section heading ending in "?" in ``faq/*.rst.txt`` is a question and the
section below it its gold answer.

It is indexed as **one document per question, holding the answer without its heading**: the gold
passage of each question is then exactly one document, so hit@k measures whether retrieval finds
the right answer, not merely the right one of eight files; and leaving the heading out keeps the
question from matching its own text verbatim, which would make hit@1 trivially 1.

Example:
    >>> items = load_jsonl(Path("data/eval/unanswerable_wiki.jsonl"))
    >>> sum(not item.answerable for item in items)
    40
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexing.errors import DatasetError
from indexing.fetch import cache_dir

FAQ_PACKAGE = "python3.11-doc"
FAQ_SOURCES = "usr/share/doc/python3.11/html/_sources/faq"
_UNDERLINE = re.compile(r"^([=\-^~*#\"'+])\1{2,}\s*$")


@dataclass(frozen=True)
class EvalItem:
    """One evaluation question.

    Attributes:
        question: the question.
        answers: acceptable answers; empty means the question should be refused.
        gold_sources: source paths of the documents that answer it (exact gold).
        gold_titles: titles of the documents that answer it.
        gold_doc_ids: ids of the documents that answer it, as the index stores them (a generated set records
            its chunk's). Where present they decide alone: one file may hold many documents (the wiki's JSON,
            a CSV), so its ``source`` would make every one of them gold.
    """

    question: str
    answers: tuple[str, ...]
    gold_sources: tuple[str, ...] = ()
    gold_titles: tuple[str, ...] = ()
    gold_doc_ids: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """True when the question has an answer in the corpus."""
        return bool(self.answers)


def load_jsonl(path: Path) -> list[EvalItem]:
    """Read ``{"question": ..., "answers": [...]}`` lines (optional ``"title"``/``"titles"``, ``"source"``,
    ``"doc_id"``).

    Raises:
        DatasetError: the file is missing, a line is not JSON or lacks a question or answers list.
    """
    items = []
    for number, row in jsonl_rows(path, "evaluation"):
        item = eval_item(row)
        if item is None:
            raise DatasetError(f'{path}:{number} needs {{"question": str, "answers": [str, ...]}}')
        items.append(item)
    if not items:
        raise DatasetError(f"evaluation file {path} has no questions")
    return items


def eval_item(row: Any) -> EvalItem | None:
    """The :class:`EvalItem` of one parsed line, or None when it lacks a question or an answers list.

    An unanswerable line's ``doc_id`` (the chunk that suggested its subject) is not gold and is dropped.

    Example:
        >>> eval_item({"question": "Who?", "answers": ["Ann"], "title": "People"}).gold_titles
        ('People',)
        >>> eval_item({"question": "Who?", "answers": ["Ann"], "doc_id": "/data/w.json#Ann"}).gold_doc_ids
        ('/data/w.json#Ann',)
    """
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        return None
    if not isinstance(row.get("answers"), list):
        return None
    titles = row.get("titles") or ([row["title"]] if row.get("title") else [])
    sources = [row["source"]] if row.get("source") else []
    doc_ids = [local_doc_id(str(row["doc_id"]))] if row.get("doc_id") and row["answers"] else []
    return EvalItem(row["question"], tuple(map(str, row["answers"])), tuple(sources), tuple(titles), tuple(doc_ids))


def local_doc_id(doc_id: str, base: Path | None = None) -> str:
    """A gold document id as an index stores it: a relative file path (``path`` or ``path#record``) is read
    against ``base`` (the working folder), as a relative ``source`` is; an absolute id is kept as it is.

    A set written in a project folder names its files relative to it (``sift eval corpus --save``), so the
    set holds no machine's paths and scores the same from any clone run in its folder. The file part is the
    longest prefix before a ``#`` that names a file (a record's name may hold ``#`` too).

    Example:
        >>> local_doc_id("/data/wiki.json#C#")
        '/data/wiki.json#C#'
        >>> local_doc_id("wiki.json#Ann", Path("/srv/project")).replace(os.sep, "/")
        '/srv/project/wiki.json#Ann'
    """
    if not doc_id or os.path.isabs(doc_id):
        return doc_id
    folder = Path.cwd() if base is None else base
    cuts = [i for i, char in enumerate(doc_id) if char == "#"] + [len(doc_id)]
    for cut in sorted(cuts, reverse=True):
        if (folder / doc_id[:cut]).is_file():
            return str((folder / doc_id[:cut]).resolve()) + doc_id[cut:]
    cut = cuts[0]
    return os.path.abspath(folder / doc_id[:cut]) + doc_id[cut:]


def check_gold_found(doc_ids: Iterable[str], has_document: Callable[[str], bool], name: str) -> None:
    """Refuse a set none of whose gold document ids is in the index, instead of scoring every question a miss.

    Raises:
        DatasetError: ``doc_ids`` is not empty and none is in the index; the message names one and what to do
            (the wrong index, or a set with relative paths read from another folder).

    Example:
        >>> check_gold_found(["/a.md", "/b.md"], {"/b.md"}.__contains__, "mine")
        >>> check_gold_found([], {"/b.md"}.__contains__, "mine")
    """
    ids = sorted(set(doc_ids))
    if ids and not any(has_document(doc_id) for doc_id in ids):
        raise DatasetError(
            f"{name}: none of its {len(ids)} gold documents is in the index (the first: {ids[0]}); score it "
            "against the index it was written for, from the folder it was saved in (its relative paths are "
            "read against the working folder)")


def portable_path(path: str, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (the working folder) when it lies inside it, else unchanged: what a saved
    set records, so it names no machine's folders (:func:`local_doc_id` reads it back).

    Example:
        >>> portable_path("/srv/project/docs/a.md#x", Path("/srv/project")), portable_path("/other/a.md", Path("/srv"))
        ('docs/a.md#x', '/other/a.md')
    """
    folder = str(Path.cwd() if base is None else base).rstrip(os.sep) + os.sep
    return path[len(folder):] if os.path.isabs(path) and path.startswith(folder) else path


def jsonl_rows(path: Path, kind: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of each non-blank line of a JSONL file.

    Raises:
        DatasetError: the file is missing (``"<kind> file … does not exist"``) or a line is not JSON
            (naming ``file:line``).
    """
    if not path.is_file():
        raise DatasetError(f"{kind} file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text (byte {exc.start}): re-save it as UTF-8") from exc
    # split at "\n" only: splitlines() also breaks at U+2028 and other separators JSON strings may hold
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number} is not JSON: {exc.msg}") from exc


def clean_rst(text: str) -> str:
    """Reduce reStructuredText markup to plain text.

    Example:
        >>> clean_rst("Use :func:`len` or ``x.size`` (see `the docs <https://x.org>`_, :pep:`8`).")
        'Use len or x.size (see the docs, PEP 8).'
    """
    text = re.sub(r":pep:`(\d+)`", r"PEP \1", text)
    text = re.sub(r":[\w:.-]+:`~?([^`<]*?)\s*(?:<[^`>]*>)?`", r"\1", text)  # :role:`target`
    text = re.sub(r"`([^`<]+?)\s*<[^`>]+>`__?", r"\1", text)  # `label <url>`_
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`_*", r"\1", text)
    text = re.sub(r"^\.\. [\w-]+::.*$", "", text, flags=re.MULTILINE)  # directives
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse_faq(text: str) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs of one FAQ file: headings ending in "?" and the text up to the next heading."""
    lines = text.splitlines()
    headings = [
        i for i in range(len(lines) - 1)
        if lines[i].strip() and _UNDERLINE.match(lines[i + 1]) and not _UNDERLINE.match(lines[i])
    ]
    pairs = []
    for n, i in enumerate(headings):
        title = lines[i].strip()
        if not title.endswith("?"):
            continue
        end = headings[n + 1] if n + 1 < len(headings) else len(lines)
        if end < len(lines) and _UNDERLINE.match(lines[end - 1]):
            end -= 1  # the next title's overline
        body = clean_rst("\n".join(lines[i + 2 : end]))
        if body:
            pairs.append((title, body))
    return pairs


def python_faq(root: Path | None = None) -> tuple[Path, list[EvalItem]]:
    """The Python FAQ as a folder of one ``.txt`` per question, and its questions.

    Args:
        root: where to keep the package and corpus (default ``<cache>/python-faq``).

    Returns:
        (corpus folder to index, items whose ``gold_sources`` name their answer file).

    Raises:
        DatasetError: the Debian package cannot be downloaded or unpacked.
    """
    root = root or cache_dir() / "python-faq"
    sources = _unpacked(root) / FAQ_SOURCES
    corpus = root / "corpus"
    items = []
    for rst in sorted(sources.glob("*.rst.txt")):
        for number, (question, answer) in enumerate(parse_faq(rst.read_text(encoding="utf-8")), start=1):
            doc = corpus / rst.name.removesuffix(".rst.txt") / f"q{number:03d}.txt"
            if not doc.exists() or doc.read_text(encoding="utf-8") != answer + "\n":
                doc.parent.mkdir(parents=True, exist_ok=True)
                doc.write_text(answer + "\n", encoding="utf-8")
            items.append(EvalItem(question, (answer,), (str(doc.resolve()),)))
    if not items:
        raise DatasetError(f"no FAQ questions found under {sources}; delete {root} and run again")
    return corpus, items


def _unpacked(root: Path) -> Path:
    target = root / "pkg"
    if (target / FAQ_SOURCES).is_dir():
        return target
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise DatasetError(f"the python-faq dataset needs apt-get and dpkg-deb (Debian/Ubuntu) to fetch {FAQ_PACKAGE}")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        got = subprocess.run(["apt-get", "download", FAQ_PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob(f"{FAQ_PACKAGE}_*.deb"))
        if got.returncode != 0 or not debs:
            raise DatasetError(
                f"`apt-get download {FAQ_PACKAGE}` failed: {(got.stderr or got.stdout).strip()[-300:]}; "
                "run `apt-get update` and check the network"
            )
        unpack = Path(tmp) / "pkg"
        x = subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpack)], capture_output=True, text=True)
        if x.returncode != 0:
            raise DatasetError(f"dpkg-deb could not unpack {debs[-1].name}: {x.stderr.strip()[-300:]}")
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(unpack), target)
    return target
