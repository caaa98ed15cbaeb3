"""E-mail (.eml) loader (the standard library's ``email`` package, modern policy): one message, one document.

Named ``mail`` so it does not shadow the standard library's ``email``.
"""

from __future__ import annotations

from email import policy
from email.errors import CloseBoundaryNotFoundDefect, InvalidBase64LengthDefect, StartBoundaryNotFoundDefect
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from bs4 import BeautifulSoup

from indexing.datatypes import Document
from indexing.errors import LoaderError
from indexing.loaders.common import LoadOptions, fail, read_bytes, source_of
from indexing.loaders.webpage import html_to_text

# A file with none of these is not a message (the parser accepts any bytes, as a body).
_MESSAGE_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")
_TRUNCATED = (CloseBoundaryNotFoundDefect, StartBoundaryNotFoundDefect)
# RFC 5322 2.1.1: a line MUST be no more than 998 characters; far longer ones come from no mail client.
MAX_HEADER_LINE = 998


def _header(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _date(message: EmailMessage) -> str:
    """The Date header as ISO 8601 (sortable, filterable), or as written when it does not parse."""
    value = message.get("Date")
    if value is None:
        return ""
    moment = getattr(value, "datetime", None)
    return moment.isoformat() if moment is not None else " ".join(str(value).split())


def _long_header_line(data: bytes) -> str | None:
    """The name of the first header whose line is longer than :data:`MAX_HEADER_LINE`, or ``None``."""
    head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.splitlines():
        if len(line) > MAX_HEADER_LINE:
            return line.split(b":", 1)[0][:40].decode("ascii", "replace").strip() or "?"
    return None


def body_text(message: EmailMessage) -> str:
    """The message's readable body: the plain-text part if there is one, else the HTML part's visible text.

    Attachments are not read. A base64 body too damaged to decode (the library then hands back the
    encoded characters) raises ``ValueError``; padding slips, which decode anyway, do not.

    Example:
        A ``multipart/alternative`` with "Hi Bob" in plain text and ``<p>Hi <b>Bob</b></p>`` → ``"Hi Bob"``.
    """
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if any(isinstance(defect, InvalidBase64LengthDefect) for defect in part.defects):
        raise ValueError("its base64 body cannot be decoded")
    if part.get_content_type() == "text/html":
        return html_to_text(BeautifulSoup(content, "html.parser"))
    return content.strip()


def load_eml(path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Load an e-mail message as one document.

    Args:
        path: the .eml file (RFC 5322, as mail clients save a message).
        options: unused; accepted so every loader has the same signature.

    Returns:
        One document titled with the Subject (else the file stem) whose text is the body (plain text
        preferred, else HTML stripped to its visible text; the Subject when there is no body);
        ``meta`` holds ``from``, ``to`` and ``date`` (ISO 8601) when present.

    Raises:
        LoaderError: binary, not a message (no From/To/Subject/Date/Message-ID header, or a header line
            over 998 characters), a truncated MIME structure, an undecodable body or charset, or no text
            at all (status "empty").

    Example:
        Subject "Survey", From "Ann <ann@example.org>", body "Otters hold hands." →
        ``Document(title="Survey", text="Otters hold hands.", meta={"from": "Ann <ann@example.org>"})``.
    """
    data = read_bytes(path, "an e-mail message")
    long_header = _long_header_line(data)
    if long_header is not None:
        raise fail(path, f"the {long_header!r} header line is longer than the {MAX_HEADER_LINE} characters "
                         "RFC 5322 allows; not a message a mail client wrote")  # fmt: skip
    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
        if not any(name in message for name in _MESSAGE_HEADERS):
            raise fail(path, f"not an e-mail message (none of the headers {', '.join(_MESSAGE_HEADERS)})")
        damage = next((d for part in message.walk() for d in part.defects if isinstance(d, _TRUNCATED)), None)
        if damage is not None:
            raise fail(path, f"truncated or damaged MIME message ({type(damage).__name__})")
        subject = _header(message, "Subject")
        text = body_text(message) or subject
        meta = {key: value for key, value in
                (("from", _header(message, "From")), ("to", _header(message, "To")), ("date", _date(message)))
                if value}  # fmt: skip
    except LoaderError:
        raise
    except Exception as exc:  # damaged headers, unknown charsets, broken transfer encodings
        raise fail(path, "not a readable e-mail message", exc) from exc
    if not text:
        raise fail(path, "no text in the message (no subject and no plain-text or HTML body)", status="empty")
    source = source_of(path)
    return [Document(id=source, source=source, title=subject or path.stem, text=text, meta=meta)]
