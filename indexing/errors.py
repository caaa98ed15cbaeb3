"""Domain errors. Each names the input at fault and says what to do about it.

The CLI maps every :class:`SiftError` to exit code 1 and a one-line message; the UI shows it
with ``st.error``. Anything else escaping is a bug.
"""

from __future__ import annotations

from typing import Literal, get_args

LoaderStatus = Literal["failed", "empty", "encrypted"]
"""Why a file was not loaded, for the ingestion report: broken, nothing to index, or locked."""
LOADER_STATUSES: frozenset[str] = frozenset(get_args(LoaderStatus))


class SiftError(Exception):
    """Base class of every error a user can cause and fix."""


class UnsupportedFileError(SiftError):
    """A file type no loader reads, e.g. ``notes.xyz``."""


class LoaderError(SiftError):
    """A file exists but cannot be read (corrupt, binary, empty, undecodable, encrypted).

    Attributes:
        status: how the ingestion report classifies the file: ``"failed"`` (damaged, wrong format,
            a tool missing), ``"empty"`` (readable but nothing to index) or ``"encrypted"`` (a password
            is needed).

    Example:
        >>> LoaderError("scan.pdf: encrypted PDF", status="encrypted").status
        'encrypted'
    """

    def __init__(self, message: str, *, status: LoaderStatus = "failed") -> None:
        if status not in LOADER_STATUSES:
            raise ValueError(f"LoaderError status {status!r} is not one of {sorted(LOADER_STATUSES)}")
        super().__init__(message)
        self.status: LoaderStatus = status

    def __reduce__(self) -> tuple:
        # Pickling (worker processes) would otherwise rebuild the error with the default status.
        return (type(self), (str(self),), {"status": self.status})


class IndexMismatchError(SiftError):
    """An index was built with another embedding model or chunker than the one asked for."""


class IndexNotFoundError(SiftError):
    """No index exists at the given directory."""


class ConfigError(SiftError):
    """A setting, option or label file is invalid."""


class ModelNotAvailableError(SiftError):
    """A model could not be found locally and cannot be downloaded here."""


class DatasetError(SiftError):
    """A dataset could not be fetched or has the wrong layout."""


class IndexCorruptError(SiftError):
    """A committed index file is missing or unreadable; ``sift doctor --repair`` rebuilds what it can."""


class IndexBusyError(SiftError):
    """Another process holds the index's write lock and did not release it in time."""


class EngineUnavailableError(SiftError):
    """The engine asked for cannot run: Ray is not installed, or no cluster answers at ``--ray-address``."""


class PathNotAllowedError(SiftError):
    """A path lies outside the folders a server may index, e.g. ``/etc`` under ``sift serve --root ~/notes``."""


class UploadConflictError(SiftError):
    """An upload's name is taken in the upload folder by a file with other content, and replacing was not asked for."""


class UploadTooLargeError(SiftError):
    """An uploaded file is over the size limit (``sift serve --max-upload-mb N``)."""


class BusyError(SiftError):
    """Every place in the generator's queue is taken (``sift serve --max-queue N``): ask again later.

    Attributes:
        ahead: requests ahead of this one (being answered and waiting).
        retry_after_s: whole seconds after which a place is likely to be free (HTTP ``Retry-After``).

    Example:
        >>> BusyError("busy: 9 requests ahead", ahead=9, retry_after_s=12).retry_after_s
        12
    """

    def __init__(self, message: str, *, ahead: int, retry_after_s: int) -> None:
        super().__init__(message)
        self.ahead = ahead
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple:
        # Pickling would otherwise rebuild the error without its keyword-only fields.
        return (_busy, (str(self), self.ahead, self.retry_after_s))


def _busy(message: str, ahead: int, retry_after_s: int) -> BusyError:
    return BusyError(message, ahead=ahead, retry_after_s=retry_after_s)
