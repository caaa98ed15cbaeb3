"""A corpus of malformed files, generated on demand, for the loaders' and the indexer's fault tests.

``write_malformed_corpus(folder)`` writes 200+ files that break a reader in every way the fuzzing issue
lists: truncated, encrypted and broken PDFs, zip bombs and broken Office/EPUB containers, NUL bytes, a
50 MB single line, deep HTML nesting, invalid UTF-8, UTF-16 without a byte-order mark, symlink loops,
unreadable permissions and FIFOs, plus broken e-mails, images, CSV and JSON. Everything is built from
fixed seeds, so two calls write the same bytes. ``load_within_budget(paths)`` loads each file through
``load_file`` in a child process with a wall-clock budget and an address-space cap.

Example:
    >>> kinds = write_malformed_corpus(Path("/tmp/bad"), heavy=False)   # doctest: +SKIP
    >>> kinds["deep-div-100000.html"], len(kinds) >= 200                  # doctest: +SKIP
    ('deep-html', True)
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import select
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import docx
import openpyxl
from ebooklib import epub
from odf.opendocument import OpenDocumentText
from odf.text import P
from pdf_testkit import write_fpdf
from pptx import Presentation
from pypdf import PdfWriter

from indexing.errors import LoaderError, UnsupportedFileError
from indexing.loaders import load_file

TEXT_SUFFIXES = (".txt", ".md", ".rst", ".html", ".csv", ".jsonl", ".json")
CONTROL_TEXT = "The control note of the malformed corpus mentions heliotrope lanterns and brass sextants."
CUTS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
Writer = Callable[[Path, dict[str, str]], None]


def _put(folder: Path, kinds: dict[str, str], name: str, data: bytes, kind: str) -> None:
    (folder / name).write_bytes(data)
    kinds[name] = kind


def _valid_text(suffix: str) -> str:
    """A small valid file body of each text format: a line of prose in the shape its loader expects."""
    line = "Malformed corpus filler sentence about tide pools."
    return {
        ".html": f"<html><body><p>{line}</p></body></html>",
        ".csv": f"title,text\nFiller,{line}\n",
        ".jsonl": f'{{"title": "Filler", "text": "{line}"}}\n',
        ".json": f'{{"Filler": {{"title": "Filler", "extract": "{line}"}}}}',
    }.get(suffix, f"# Filler\n\n{line}\n")


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx_bytes() -> bytes:
    document = docx.Document()
    for n in range(12):
        document.add_paragraph(f"Paragraph {n} of the broken Word document about canal locks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _pptx_bytes() -> bytes:
    deck = Presentation()
    for n in range(3):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide {n} on glacier retreat"
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def _xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for n in range(30):
        sheet.append([n, f"row {n} about orchard pests"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _odt_bytes() -> bytes:
    document = OpenDocumentText()
    for n in range(10):
        document.text.addElement(P(text=f"Paragraph {n} of the OpenDocument about lighthouse lenses."))
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def _epub_bytes(folder: Path) -> bytes:
    book = epub.EpubBook()
    book.set_identifier("malformed-corpus")
    book.set_title("Broken book")
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml", content="<h1>One</h1><p>Chapter about moss.</p>")
    book.add_item(chapter)
    book.toc = [chapter]
    book.spine = [chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    scratch = folder / ".scratch.epub"
    epub.write_epub(str(scratch), book)
    data = scratch.read_bytes()
    scratch.unlink()
    return data


def _zip_bomb(path: Path, base: bytes, member: str, kib: int, unit: bytes, head: bytes, tail: bytes) -> None:
    """``base`` (a zip) with ``member`` replaced by ``head``, ``kib`` KiB of ``unit`` and ``tail``."""
    source = zipfile.ZipFile(io.BytesIO(base))
    block = unit * ((1 << 10) // len(unit))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename != member:
                archive.writestr(info, source.read(info))
        with archive.open(member, "w", force_zip64=True) as handle:
            handle.write(head)
            for _ in range(kib):
                handle.write(block)
            handle.write(tail)


def _pdfs(folder: Path, kinds: dict[str, str]) -> None:
    good = write_fpdf(folder / ".scratch.pdf", ["Page one about river deltas.", "", "Page three on silt."])
    data = good.read_bytes()
    good.unlink()
    for cut in CUTS:
        _put(folder, kinds, f"truncated-{cut}.pdf", data[: max(1, int(len(data) * cut))], "truncated-pdf")
    for algorithm in ("RC4-40", "RC4-128"):
        for user, owner in (("secret", "owner"), ("", "owner")):
            writer = PdfWriter(clone_from=io.BytesIO(data))
            writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
            buffer = io.BytesIO()
            writer.write(buffer)
            locked = buffer.getvalue()
            label = "user" if user else "owner-only"
            _put(folder, kinds, f"encrypted-{algorithm}-{label}.pdf", locked, "encrypted-pdf")
            _put(folder, kinds, f"encrypted-{algorithm}-{label}-cut.pdf", locked[: len(locked) // 2], "encrypted-pdf")
            if algorithm == "RC4-128":  # same length edit: claims AES-256, which needs a crypto library
                _put(folder, kinds, f"encrypted-aes-claim-{label}.pdf",
                     locked.replace(b"/V 2", b"/V 5").replace(b"/R 3", b"/R 6"), "encrypted-pdf")
    rng = random.Random(7)
    for n in range(4):
        _put(folder, kinds, f"garbage-{n}.pdf", b"%PDF-1.7\n" + rng.randbytes(2000 * (n + 1)), "broken-pdf")
    _put(folder, kinds, "header-only.pdf", b"%PDF-1.7\n", "broken-pdf")
    _put(folder, kinds, "bad-startxref.pdf", data.replace(b"startxref", b"startxreX"), "broken-pdf")
    _put(folder, kinds, "no-eof.pdf", data.replace(b"%%EOF", b""), "broken-pdf")
    _put(folder, kinds, "looping-objects.pdf", data.replace(b"/Pages 1 0 R", b"/Pages 3 0 R"), "broken-pdf")


def _containers(folder: Path, kinds: dict[str, str], heavy: bool) -> None:
    """Broken DOCX, EPUB, PPTX, XLSX and ODT files: truncated, random, hollowed and bombed zips."""
    bases = {".docx": _docx_bytes(), ".epub": _epub_bytes(folder), ".pptx": _pptx_bytes(),
             ".xlsx": _xlsx_bytes(), ".odt": _odt_bytes()}  # fmt: skip
    main_member = {".docx": "word/document.xml", ".epub": "EPUB/one.xhtml", ".pptx": "ppt/slides/slide1.xml",
                   ".xlsx": "xl/worksheets/sheet1.xml", ".odt": "content.xml"}  # fmt: skip
    rng = random.Random(11)
    for suffix, data in bases.items():
        kind = f"broken-{suffix[1:]}"
        cuts = CUTS[::2] if suffix == ".docx" else CUTS[1::4]
        for cut in cuts + (0.999,) * (suffix == ".docx"):
            _put(folder, kinds, f"truncated-{cut}{suffix}", data[: int(len(data) * cut)], kind)
        _put(folder, kinds, f"random{suffix}", rng.randbytes(4096), kind)
        hollow = {n: b for n, b in _unzip(data).items() if n != main_member[suffix]}
        _put(folder, kinds, f"missing-part{suffix}", _zip_bytes(hollow), kind)
        _put(folder, kinds, f"bad-xml{suffix}", _zip_bytes({**_unzip(data), main_member[suffix]: b"<a><b></a>"}), kind)
        _zip_bomb(folder / f"bomb-zeros{suffix}", data, main_member[suffix], 64 << 10, b"\0", b"", b"")
        kinds[f"bomb-zeros{suffix}"] = "zip-bomb"
    _put(folder, kinds, "empty-zip.docx", _zip_bytes({}), "broken-docx")
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
            b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')  # fmt: skip
    # Empty paragraphs (refused: no text) keep the quick bombs cheap to index; the heavy ones hold text.
    bombs = {"bomb-empty-paragraphs-256kb.docx": (256, b"<w:p/>"), "bomb-empty-paragraphs-1mb.docx": (1024, b"<w:p/>")}
    if heavy:
        full = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
        bombs |= {"bomb-paragraphs-16mb.docx": (16 << 10, full), "bomb-paragraphs-64mb.docx": (64 << 10, full)}
    for name, (kib, unit) in bombs.items():
        _zip_bomb(folder / name, bases[".docx"], "word/document.xml", kib, unit, head, b"</w:body></w:document>")
        kinds[name] = "zip-bomb"
    zeros = (512 if heavy else 64) << 10
    _zip_bomb(folder / "bomb-media.docx", bases[".docx"], "word/media/zeros.bin", zeros, b"\0", b"", b"")
    kinds["bomb-media.docx"] = "zip-bomb"


def _unzip(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {info.filename: archive.read(info) for info in archive.infolist()}


def _texts(folder: Path, kinds: dict[str, str]) -> None:
    """NUL bytes, invalid UTF-8, UTF-16 without BOM and empty files, in every text format."""
    rng = random.Random(3)
    for suffix in TEXT_SUFFIXES:
        stem = suffix[1:]
        body = _valid_text(suffix).encode()
        _put(folder, kinds, f"nul-head-{stem}{suffix}", b"\0" + body, "nul-bytes")
        # Past the 8 KiB binary sniff: the NUL reaches the decoder and the index.
        _put(folder, kinds, f"nul-late-{stem}{suffix}", body + b" " * 9000 + b"\0tail\n", "nul-bytes")
        for seed in range(3):
            noise = bytes(b or 1 for b in rng.randbytes(300))  # no NUL: the decoders, not the sniff, judge it
            # 0x81 is undefined in Windows-1252 too: seed 0 cannot be decoded at all.
            _put(folder, kinds, f"invalid-utf8-{seed}-{stem}{suffix}", body + (b"\x81" if seed == 0 else b"") + noise,
                 "invalid-utf8")
        text = _valid_text(suffix)
        _put(folder, kinds, f"utf16le-{stem}{suffix}", text.encode("utf-16-le"), "utf16-no-bom")
        _put(folder, kinds, f"utf16be-{stem}{suffix}", text.encode("utf-16-be"), "utf16-no-bom")
        cjk = "中文标题，海潮与沙洲的记录。".encode("utf-16-le")  # no zero byte at all, unlike ASCII in UTF-16
        _put(folder, kinds, f"utf16le-cjk-{stem}{suffix}", cjk, "utf16-no-bom")
        _put(folder, kinds, f"empty-{stem}{suffix}", b"", "empty")
    for suffix in (".pdf", ".docx", ".htm", ".markdown"):
        _put(folder, kinds, f"empty{suffix}", b"", "empty")
    _put(folder, kinds, "whitespace.txt", b" \n\t\r\n" * 100, "empty")


def _html(folder: Path, kinds: dict[str, str]) -> None:
    def nest(open_tag: str, close_tag: str, depth: int, inner: str = "deep text") -> bytes:
        return f"<html><body>{open_tag * depth}{inner}{close_tag * depth}</body></html>".encode()

    for depth in (2_000, 8_000, 100_000):
        _put(folder, kinds, f"deep-div-{depth}.html", nest("<div>", "</div>", depth), "deep-html")
    _put(folder, kinds, "deep-unclosed-b.html", nest("<b>", "", 50_000), "deep-html")
    _put(folder, kinds, "deep-unclosed-p.htm", nest("<p>", "", 50_000), "deep-html")
    _put(folder, kinds, "deep-table.html", nest("<table><tr><td>", "</td></tr></table>", 10_000), "deep-html")
    _put(folder, kinds, "deep-pre.html", nest("<pre>\n", "</pre>", 20_000, "a\nb"), "deep-html")
    _put(folder, kinds, "deep-nav-only.html", nest("<nav>", "</nav>", 20_000), "deep-html")
    _put(folder, kinds, "deep-br.html", nest("x<br>", "", 5_000), "deep-html")
    _put(folder, kinds, "deep-comments.html", nest("<!--", "-->", 20_000), "deep-html")


def _tables(folder: Path, kinds: dict[str, str]) -> None:
    """CSV, JSONL and wiki JSON that break their parsers (quotes, shapes, nesting)."""
    cases = {
        "unterminated-quote.csv": b'title,text\nA,"never closed\nB,x\n',
        "header-only.csv": b"title,text\n",
        "no-text-column.csv": b"a,b\n1,2\n",
        "ragged.csv": b"title,text\nA\nB,x,y,z\n,,,\n",
        "nul-in-field.csv": b"title,text\nA," + b"y" * 9000 + b"\0\n",
        "truncated.jsonl": b'{"text": "complete"}\n{"text": "cut',
        "array-lines.jsonl": b'["a", "b"]\n[1]\n',
        "scalar-lines.jsonl": b"1\n\"s\"\nnull\n",
        "deep.jsonl": b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "deep-object.jsonl": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "no-text-key.jsonl": b'{"a": 1}\n',
        "truncated.json": b'{"A": {"title": "A", "extract": "cut',
        "list.json": b'[{"title": "A", "extract": "x"}]',
        "wrong-shape.json": b'{"A": "just a string"}',
        "deep.json": b'{"A": {"extract": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        "empty-extracts.json": b'{"A": {"extract": ""}, "B": {"extract": "  "}}',
    }
    for name, data in cases.items():
        suffix = Path(name).suffix
        _put(folder, kinds, name, data, {".csv": "broken-csv", ".jsonl": "broken-jsonl"}.get(suffix, "broken-json"))


def _mail_and_images(folder: Path, kinds: dict[str, str]) -> None:
    mails = {
        "no-headers.eml": b"just a body without any header lines\n",
        "binary-body.eml": b"Subject: x\n\n" + random.Random(5).randbytes(3000),
        "bad-base64.eml": b"Subject: b64\nContent-Transfer-Encoding: base64\n\n!!!not*base64***\n",
        "bad-charset.eml": b"Subject: cs\nContent-Type: text/plain; charset=no-such-charset\n\n\xff\xfe text\n",
        "truncated-multipart.eml": b'Subject: m\nContent-Type: multipart/mixed; boundary="XX"\n\n--XX\nContent-',
        "nul.eml": b"Subject: \0\0\n\n\0body\0\n",
        "huge-header.eml": b"Subject: " + b"s" * 2_000_000 + b"\n\nbody\n",
    }
    for name, data in mails.items():
        _put(folder, kinds, name, data, "broken-eml")
    png = b"\x89PNG\r\n\x1a\n"
    ihdr = b"\x00\x00\x00\rIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00"
    images = {
        "signature-only.png": png,
        "header-only.png": png + ihdr,
        "huge-dimensions.png": png + ihdr.replace(b"\x00\x00\x10\x00" * 2, b"\x7f\xff\xff\xff" * 2),
        "random.png": png + random.Random(9).randbytes(5000),
        "soi-only.jpg": b"\xff\xd8",
        "truncated.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00",
        "random.jpg": b"\xff\xd8\xff" + random.Random(10).randbytes(5000),
        "text-named.jpg": b"this is a text file with a .jpg name\n",
    }
    for name, data in images.items():
        _put(folder, kinds, name, data, "broken-image")


def _special(folder: Path, kinds: dict[str, str]) -> None:
    """Symlink loops, a dangling link, unreadable files and FIFOs: entries that are not regular files."""
    os.symlink("self-loop.txt", folder / "self-loop.txt")
    os.symlink("cycle-b.md", folder / "cycle-a.md")
    os.symlink("cycle-a.md", folder / "cycle-b.md")
    os.symlink("no-such-target.txt", folder / "dangling.txt")
    (folder / "loopdir").mkdir()
    os.symlink("..", folder / "loopdir" / "back")
    for name in ("self-loop.txt", "cycle-a.md", "cycle-b.md", "dangling.txt", "loopdir/back"):
        kinds[name] = "symlink-loop"
    for suffix in TEXT_SUFFIXES:
        name = f"unreadable{suffix}"
        _put(folder, kinds, name, _valid_text(suffix).encode(), "unreadable")
        (folder / name).chmod(0)
    for name in ("fifo.txt", "fifo.md", "fifo.csv"):
        os.mkfifo(folder / name)
        kinds[name] = "fifo"


def write_huge_line(folder: Path, kinds: dict[str, str], megabytes: int = 50) -> None:
    """One JSONL file whose only line is a ``megabytes`` MB object cut off before its end (a truncated dump)."""
    words = b"tide pool anemone barnacle " * ((megabytes << 20) // 27)
    _put(folder, kinds, f"single-line-{megabytes}mb.jsonl", b'{"title": "dump", "text": "' + words, "huge-single-line")


def write_malformed_corpus(folder: Path, *, heavy: bool = True) -> dict[str, str]:
    """Write the malformed corpus (and one readable control note) into ``folder``.

    Args:
        folder: where to write; created if missing, and should be empty.
        heavy: add the 50 MB single line and the large zip bombs (16 and 64 MiB of Word paragraphs,
            512 MiB of zeros); without them the corpus still has 200+ files of every other kind.

    Returns:
        File name (relative to ``folder``) → its kind, e.g. ``"truncated-0.5.pdf" → "truncated-pdf"``;
        the control note ``control.md`` is kind ``"control"``.

    Example:
        >>> sorted(set(write_malformed_corpus(Path("/tmp/bad")).values()))[:3]   # doctest: +SKIP
        ['broken-csv', 'broken-docx', 'broken-eml']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    _put(folder, kinds, "control.md", f"# Control\n\n{CONTROL_TEXT}\n".encode(), "control")
    _pdfs(folder, kinds)
    _containers(folder, kinds, heavy)
    _texts(folder, kinds)
    _html(folder, kinds)
    _tables(folder, kinds)
    _mail_and_images(folder, kinds)
    _special(folder, kinds)
    if heavy:
        write_huge_line(folder, kinds)
        # Past csv's default 128 KiB field limit: loads, and costs ~1M tokens to index.
        _put(folder, kinds, "huge-field.csv", b'title,text\nA,"' + b"w " * 1_000_000 + b'"\n', "broken-csv")
    return kinds


# ---- loading each file in a child under a budget --------------------------------------------
SECONDS = 10.0  # CPU budget per file (the child's user + system time: a loaded machine stretches wall time only)
WALL_LIMIT = 60.0  # a child still running after this long is a hang (a blocked read uses no CPU), killed
ADDRESS_SPACE = 3 << 30  # hard cap in the child: an allocation past it raises MemoryError there
PEAK_RSS = 1 << 30  # budget per file for the child's peak resident memory


@dataclass(frozen=True)
class Outcome:
    """What loading one file did: ``status`` is loaded, refused, crashed, hung or out-of-memory."""

    status: str
    message: str = ""
    seconds: float = 0.0
    peak_rss: int = 0
    cpu_seconds: float = 0.0

    @property
    def within_budget(self) -> bool:
        return self.status in {"loaded", "refused"} and self.cpu_seconds <= SECONDS and self.peak_rss <= PEAK_RSS


def _child(path: str, user: int | None, out: int) -> None:
    """In the forked child: load ``path`` under the cap (as ``user`` when given), write status and message."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    if user is not None:
        os.setgid(user)
        os.setuid(user)
    try:
        load_file(Path(path))
        status, message = "loaded", ""
    except (LoaderError, UnsupportedFileError) as exc:
        status = "out-of-memory" if isinstance(exc.__cause__, MemoryError) else "refused"
        message = str(exc)
    except BaseException as exc:  # noqa: BLE001 - anything else escaping load_file is the crash looked for
        status, message = "crashed", f"{type(exc).__name__}: {exc}"
    os.write(out, json.dumps([status, message[:4000]]).encode())


def _run_child(path: str, user: int | None) -> Outcome:
    """Fork a child for one file; kill it at :data:`WALL_LIMIT`; its CPU time and peak RSS come from ``wait4``."""
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            _child(path, user, write)
        finally:
            os._exit(0)
    os.close(write)
    data, hung = b"", False
    while True:
        left = WALL_LIMIT - (time.perf_counter() - started)
        if left <= 0 or not select.select([read], [], [], left)[0]:
            hung = True
            os.kill(pid, signal.SIGKILL)
            break
        block = os.read(read, 1 << 16)
        if not block:
            break
        data += block
    os.close(read)
    _, code, usage = os.wait4(pid, 0)
    seconds, peak = time.perf_counter() - started, usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    if hung:
        return Outcome("hung", "", seconds, peak, cpu)
    if not data:  # died without a word: a segfault, an abort, the kernel's OOM killer
        return Outcome("crashed", f"wait status {code}", seconds, peak, cpu)
    status, message = json.loads(data)
    return Outcome(status, message, seconds, peak, cpu)


def _serve() -> None:
    """The worker: imports the loaders once, then forks one child per ``[path, user]`` line of stdin."""
    for line in sys.stdin:
        path, user = json.loads(line)
        print(json.dumps(asdict(_run_child(path, user))), flush=True)


def load_within_budget(paths: list[Path], user: int | None = None) -> dict[Path, Outcome]:
    """Load each path through ``load_file`` in its own child process under the time and memory budget.

    The children are forked from one worker interpreter that imported the loaders once (a few
    milliseconds a file), not from the caller, whose threads (torch's) make forking unsafe.

    Args:
        paths: files to load.
        user: a uid to load as (root reads every file; ``nobody`` does not).

    Returns:
        Path → :class:`Outcome`, e.g. ``Outcome("refused", "/x/a.pdf: not a readable PDF (...)", 0.01, 80e6)``.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    worker = subprocess.Popen(
        [sys.executable, "-c", "import malformed_testkit; malformed_testkit._serve()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert worker.stdin is not None and worker.stdout is not None
    outcomes: dict[Path, Outcome] = {}
    try:
        for path in paths:
            worker.stdin.write(json.dumps([str(path), user]) + "\n")
            worker.stdin.flush()
            outcomes[path] = Outcome(**json.loads(worker.stdout.readline()))
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
    return outcomes
