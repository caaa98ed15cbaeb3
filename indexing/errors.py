"""Domain errors. Each names the input at fault and says what to do about it.

The CLI maps every :class:`SiftError` to exit code 1 and a one-line message; the UI shows it
with ``st.error``. Anything else escaping is a bug.
"""

from __future__ import annotations


class SiftError(Exception):
    """Base class of every error a user can cause and fix."""


class UnsupportedFileError(SiftError):
    """A file type no loader reads, e.g. ``notes.xyz``."""


class LoaderError(SiftError):
    """A file exists but cannot be read (corrupt, binary, empty, undecodable)."""


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
