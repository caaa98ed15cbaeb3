"""Environment variables, read one way: one yes/no parser, one integer parser, one data directory.

Every ``SIFT_*`` variable sift reads, and ``HF_HUB_OFFLINE``, goes through these functions, so ``no``
means no everywhere and a typo is a :class:`~indexing.errors.ConfigError` naming the variable, its value
and what it accepts: never a traceback, never a silent default. They live in ``indexing`` (the bottom
layer) so that indexing, pipelines and app share them; :mod:`app.settings` builds ``Settings`` on them.
Nothing here writes to ``os.environ``.

Example:
    >>> parse_bool("Off", "SIFT_OCR"), parse_int("4", "SIFT_QUERY_THREADS", minimum=0)
    (False, 4)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from indexing.errors import ConfigError

BOOL_WORDS: dict[str, bool] = {
    "1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
}
BOOL_HELP = "1/0, true/false, yes/no or on/off (any case)"
# The checkout sift runs from: its data/ folder is the default data directory wherever the process starts.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def parse_bool(raw: str | bool, name: str) -> bool:
    """A yes/no word (``1 true yes on`` / ``0 false no off``, any case) or a bool.

    Args:
        raw: the value, e.g. ``"No"``; a TOML ``true`` arrives as a bool.
        name: where it came from, for the error, e.g. ``"SIFT_OCR"``.

    Raises:
        ConfigError: any other value; the message names ``name``, the value and the accepted words.

    Example:
        >>> parse_bool(" YES ", "SIFT_OCR"), parse_bool(False, "ocr")
        (True, False)
    """
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in BOOL_WORDS:
        raise ConfigError(f"{name} must be a yes/no word, {BOOL_HELP}, got {raw!r}")
    return BOOL_WORDS[word]


def parse_int(raw: str | int, name: str, minimum: int | None = None) -> int:
    """A whole number (surrounding spaces allowed), at least ``minimum`` when given.

    Raises:
        ConfigError: not a whole number (``"two"``, ``"1.5"``, a bool) or below ``minimum``; names ``name``.

    Example:
        >>> parse_int(" 8 ", "SIFT_GROUP_CHUNKS", minimum=1)
        8
    """
    wanted = f"a whole number{'' if minimum is None else f', {minimum} or more'}"
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError(raw)
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {wanted}, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be {wanted}, got {raw!r}")
    return value


def env_text(name: str) -> str | None:
    """``$name`` stripped of surrounding spaces; None when unset or blank.

    Example:
        >>> env_text("SIFT_UNSET_EXAMPLE") is None
        True
    """
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool) -> bool:
    """``$name`` as a yes/no word (:func:`parse_bool`); ``default`` when unset or blank.

    Example:
        >>> env_bool("SIFT_UNSET_EXAMPLE", default=True)
        True
    """
    value = env_text(name)
    return default if value is None else parse_bool(value, name)


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """``$name`` as a whole number (:func:`parse_int`); ``default`` when unset or blank.

    Example:
        >>> env_int("SIFT_UNSET_EXAMPLE", 20_000, minimum=1)
        20000
    """
    value = env_text(name)
    return default if value is None else parse_int(value, name, minimum)


def env_choice(name: str, choices: Sequence[str], default: str) -> str:
    """``$name`` lowercased when it is one of ``choices``; ``default`` when unset or blank.

    Raises:
        ConfigError: any other value, naming ``name`` and the choices.

    Example:
        >>> env_choice("SIFT_UNSET_EXAMPLE", ("onnx", "torch"), "onnx")
        'onnx'
    """
    value = env_text(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def hub_offline() -> bool:
    """True unless ``HF_HUB_OFFLINE`` is a no word: sift contacts the Hugging Face hub only when told to.

    Offline is the default because every default model ships in a package; ``HF_HUB_OFFLINE=0`` (or
    ``no``, ``false``, ``off``) lets hub names through. Read here, never written to the environment.

    Example:
        >>> os.environ.get("HF_HUB_OFFLINE") in (None, "1") and hub_offline()
        True
    """
    return env_bool("HF_HUB_OFFLINE", True)


def default_data_dir() -> Path:
    """``data/`` of the sift checkout (the folder holding ``pyproject.toml``), an absolute path, whatever the
    current directory; for an installed (not checked-out) sift, ``$XDG_DATA_HOME/sift`` (``~/.local/share/sift``).

    Example:
        >>> default_data_dir().is_absolute()
        True
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser() / "sift"


def data_dir() -> Path:
    """The data directory (datasets, downloads, models, the ONNX cache, the default index), absolute:
    ``$SIFT_DATA`` (a relative value is taken from the current directory), else :func:`default_data_dir`.

    Every module asks here, so the data never lands in whatever directory a command was started from.

    Raises:
        ConfigError: ``$SIFT_DATA`` names something that is not a directory.

    Example:
        >>> data_dir().is_absolute()
        True
    """
    value = env_text("SIFT_DATA")
    if value is None:
        return default_data_dir()
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"SIFT_DATA must name a directory (created when missing), got {value!r}, a file")
    return path
