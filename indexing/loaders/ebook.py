"""EPUB loader (EbookLib for the package, BeautifulSoup for each XHTML chapter), in reading order."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import ebooklib
from bs4 import BeautifulSoup
from ebooklib import epub

from indexing.datatypes import Document
from indexing.loaders.common import LoadOptions, fail, source_of
from indexing.loaders.webpage import html_to_text

_ENCRYPTION = "META-INF/encryption.xml"
# Font obfuscation (IDPF, Adobe) also lists files in encryption.xml but leaves the text readable.
_CONTENT_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")


def drm_protected(path: Path) -> bool:
    """Whether the EPUB's ``encryption.xml`` lists content documents (DRM), not only obfuscated fonts.

    Example:
        A shop EPUB whose encryption.xml names ``OEBPS/chapter1.xhtml`` → ``True``; a plain one → ``False``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if _ENCRYPTION not in archive.namelist():
                return False
            listing = BeautifulSoup(archive.read(_ENCRYPTION), "xml")  # the XML parser drops namespace prefixes
    except (zipfile.BadZipFile, OSError, KeyError):
        return False  # read_epub reports the damage in its own words
    uris = [str(ref.get("URI", "")) for ref in listing.find_all("CipherReference")]
    return any(uri.lower().endswith(_CONTENT_SUFFIXES) for uri in uris)


def _metadata(book: epub.EpubBook, name: str) -> str:
    values = book.get_metadata("DC", name)
    return " ".join(str(values[0][0]).split()) if values and values[0][0] else ""


def load_epub(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load an e-book as one document: the visible text of its spine documents, chapter after chapter.

    The navigation document (the table of contents) is skipped: its entries repeat the chapter headings.

    Args:
        path: the .epub file.
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document titled with the book's ``dc:title`` (else the file stem); ``meta["author"]`` holds
        the first ``dc:creator`` when there is one.

    Raises:
        LoaderError: not a readable EPUB; DRM-protected (status "encrypted"); no text (status "empty").

    Example:
        A book "Otters" with chapters "<h1>One</h1><p>Hands.</p>" and "<p>Sleep.</p>" →
        ``Document(title="Otters", text="One\\n\\nHands.\\n\\nSleep.")``.
    """
    if drm_protected(path):
        raise fail(path, "DRM-protected EPUB (its chapters are encrypted); remove the DRM to index it",
                   status="encrypted")  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EbookLib warns about its own future defaults on every read
            book = epub.read_epub(str(path), options={"ignore_ncx": True})
        chapters = []
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is None or isinstance(item, epub.EpubNav) or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            text = html_to_text(BeautifulSoup(item.get_content(), "html.parser"))
            if text:
                chapters.append(text)
        title, author = _metadata(book, "title"), _metadata(book, "creator")
    except Exception as exc:  # zipfile, lxml and EbookLib each raise their own types on damage
        raise fail(path, "not a readable EPUB", exc) from exc
    if not chapters:
        raise fail(path, "no text in the book's chapters", status="empty")
    source = source_of(path)
    meta = {"author": author} if author else {}
    return [Document(id=source, source=source, title=title or path.stem, text="\n\n".join(chapters), meta=meta)]
