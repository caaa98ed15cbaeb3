"""File loaders: turn files on disk into :class:`~indexing.datatypes.Document` values.

Example:
    >>> from pathlib import Path
    >>> from indexing.loaders import is_supported, SUPPORTED_EXTENSIONS
    >>> is_supported(Path("a.PDF")), ".docx" in SUPPORTED_EXTENSIONS
    (True, True)

``load_file(path)`` picks the loader by extension; ``iter_files(paths)`` expands folders into the
supported files inside them.
"""

from __future__ import annotations

from indexing.loaders.common import LoadOptions
from indexing.loaders.files import iter_files
from indexing.loaders.registry import LOADERS, SUPPORTED_EXTENSIONS, is_supported, load_file

__all__ = ["LOADERS", "SUPPORTED_EXTENSIONS", "LoadOptions", "is_supported", "iter_files", "load_file"]
