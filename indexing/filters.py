"""Metadata keys and filter syntax: the one rule the store, the CLI, the UI and classification share.

A metadata key starts with an ASCII letter or ``_`` and continues with letters, digits, ``_`` or
``-`` (``label``, ``doc_label``, ``topic-2``; not ``1x``, ``a b`` or ``é``). A filter is a set of
``key=value`` equalities, all of which must hold: the CLI takes one per ``--where`` (repeatable),
the UI's text box takes several separated by commas. Keys ``source``, ``title`` and ``doc_id`` match
the document's own fields; ``topic_id`` and ``topic_label`` are written by topic modelling. Both
kinds are reserved: classification refuses to write labels under them.

Example:
    >>> parse_filter_text("topic=Arts, lang = en")
    {'topic': 'Arts', 'lang': 'en'}
    >>> parse_filters(["topic=Arts", "note=a=b"])
    {'topic': 'Arts', 'note': 'a=b'}
    >>> label_keys("sentiment")
    ('sentiment', 'sentiment_score', 'doc_sentiment')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from indexing.errors import ConfigError

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
"""A valid metadata key, matched whole (``KEY_PATTERN.fullmatch(key)``)."""
KEY_RULE = "start with a letter or '_', then use letters, digits, '_' or '-'"
DOCUMENT_FIELDS: frozenset[str] = frozenset({"source", "title", "doc_id"})
"""Filter keys matched against the document's own fields, not its metadata."""
TOPIC_ID_KEY = "topic_id"
TOPIC_LABEL_KEY = "topic_label"  # not "topic": corpora such as the wiki summaries carry a gold "topic"
RESERVED_KEYS: frozenset[str] = DOCUMENT_FIELDS | {TOPIC_ID_KEY, TOPIC_LABEL_KEY}
"""Keys that no classification may write: a filter on them means something else."""


def is_valid_key(key: str) -> bool:
    """True when ``key`` is a metadata key a filter can match.

    Example:
        >>> is_valid_key("doc_label"), is_valid_key("1x"), is_valid_key("label\\n")
        (True, False, False)
    """
    return isinstance(key, str) and KEY_PATTERN.fullmatch(key) is not None


def check_key(key: str, what: str = "metadata key") -> str:
    """``key`` itself when valid.

    Raises:
        ConfigError: the key is empty or has other characters (named, with the rule).

    Example:
        >>> check_key("label")
        'label'
    """
    if not is_valid_key(key):
        raise ConfigError(f"{what} {key!r} is not valid: {KEY_RULE} (e.g. label, doc_label, topic-2)")
    return key


def label_keys(key: str) -> tuple[str, str, str]:
    """The metadata keys classification under ``key`` writes: label, its score, the document's label.

    Raises:
        ConfigError: ``key`` is invalid or reserved, or one of the keys it writes is reserved
            (``id`` would write ``doc_id``, which filters match against the document's id).
    """
    check_key(key, "label key")
    written = (key, f"{key}_score", f"doc_{key}")
    clash = [k for k in written if k in RESERVED_KEYS]
    if clash:
        raise ConfigError(
            f"label key {key!r} would write {', '.join(repr(k) for k in clash)}, which "
            f"{'is' if len(clash) == 1 else 'are'} reserved ({', '.join(sorted(RESERVED_KEYS))}): "
            "choose another key, e.g. 'label' or 'sentiment'"
        )
    return written


def parse_filter(item: str, origin: str = "filter") -> tuple[str, str]:
    """One ``key=value`` item → ``(key, value)``, both stripped; the value may contain ``=``.

    Args:
        item: e.g. ``"topic = Arts"``.
        origin: how the user gave it, for the message (``"--where"``, ``"filter"``).

    Raises:
        ConfigError: no ``=``, an empty key, or an invalid key.

    Example:
        >>> parse_filter(" note = a=b ")
        ('note', 'a=b')
    """
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{origin} {item.strip()!r} is not key=value (e.g. topic=Arts)")
    return check_key(key, f"{origin} key"), value.strip()


def parse_filters(items: Iterable[str], origin: str = "--where") -> dict[str, str] | None:
    """``key=value`` items (one per ``--where``) → a filter; None when there are none.

    Raises:
        ConfigError: a malformed item, or one key given two different values (no chunk has both).

    Example:
        >>> parse_filters([]) is None
        True
    """
    where: dict[str, str] = {}
    for item in items:
        key, value = parse_filter(item, origin)
        _add(where, key, value, origin)
    return where or None


def parse_filter_text(text: str) -> dict[str, str] | None:
    """The UI's filter box: ``key=value`` items separated by commas → a filter; blank → None.

    Raises:
        ConfigError: as :func:`parse_filters`.

    Example:
        >>> parse_filter_text("  ") is None
        True
    """
    if not text.strip():
        return None
    return parse_filters(text.split(","), origin="filter")


def merge_filters(*filters: Mapping[str, str] | None) -> dict[str, str] | None:
    """All the equalities of several filters (e.g. the typed one and a topic menu's) in one; None if empty.

    Raises:
        ConfigError: two filters give one key different values.

    Example:
        >>> merge_filters({"lang": "en"}, None, {"topic_id": "3"})
        {'lang': 'en', 'topic_id': '3'}
    """
    where: dict[str, str] = {}
    for part in filters:
        for key, value in (part or {}).items():
            _add(where, check_key(key, "filter key"), str(value), "filter")
    return where or None


def _add(where: dict[str, str], key: str, value: str, origin: str) -> None:
    if key in where and where[key] != value:
        raise ConfigError(
            f"{origin} key {key!r} is given twice ({where[key]!r} and {value!r}): "
            "every filter must hold, and a chunk has one value per key; keep one"
        )
    where[key] = value
