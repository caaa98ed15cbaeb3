"""Metadata keys and filter syntax (indexing/filters.py): one rule for the CLI, the UI and classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexing.errors import ConfigError
from indexing.filters import (
    RESERVED_KEYS,
    check_key,
    is_valid_key,
    label_keys,
    merge_filters,
    parse_filter_text,
    parse_filters,
)

KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_\-]{0,12}\Z")
VALUES = st.text(st.characters(blacklist_characters=",\r\n", blacklist_categories=("Cs",)), max_size=20).map(
    str.strip
)


@pytest.mark.parametrize("key", ["label", "doc_label", "_x", "topic-2", "A9"])
def test_valid_keys(key: str) -> None:
    assert is_valid_key(key) and check_key(key) == key


@pytest.mark.parametrize("key", ["", "1x", "-a", "a b", "é", "a.b", 'a"b', "label\n", " label"])
def test_invalid_keys_are_refused_with_the_rule(key: str) -> None:
    assert not is_valid_key(key)
    with pytest.raises(ConfigError, match="start with a letter or '_'"):
        check_key(key)


def test_cli_and_ui_syntax_give_the_same_filter() -> None:
    assert parse_filters(["topic=Arts", "lang = en", "note=a=b"]) == {"topic": "Arts", "lang": "en", "note": "a=b"}
    assert parse_filter_text("topic=Arts, lang = en, note=a=b") == {"topic": "Arts", "lang": "en", "note": "a=b"}
    assert parse_filters([]) is None and parse_filter_text(" ") is None and parse_filter_text("") is None


@pytest.mark.parametrize("bad", ["topic", "=Arts", "topic=Arts, oops", " = x"])
def test_malformed_items_name_the_item(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not key=value"):
        parse_filter_text(bad)


def test_a_key_a_filter_could_never_match_is_refused_when_parsed() -> None:
    with pytest.raises(ConfigError, match=r"--where key '1x' is not valid"):
        parse_filters(["1x=a"])
    with pytest.raises(ConfigError, match=r"filter key 'a b' is not valid"):
        parse_filter_text("a b=c")


def test_one_key_with_two_values_is_an_error_but_a_repeat_is_not() -> None:
    assert parse_filters(["topic=Arts", "topic=Arts"]) == {"topic": "Arts"}
    with pytest.raises(ConfigError, match=r"'topic' is given twice \('Arts' and 'Music'\)"):
        parse_filters(["topic=Arts", "topic=Music"])
    with pytest.raises(ConfigError, match="given twice"):
        merge_filters({"topic_id": "2"}, {"topic_id": "3"})
    assert merge_filters({"lang": "en"}, None, {"topic_id": "3"}) == {"lang": "en", "topic_id": "3"}
    assert merge_filters(None, {}) is None


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS) + ["id"])
def test_label_keys_refuse_reserved_keys_and_keys_that_would_write_one(key: str) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        label_keys(key)


def test_label_keys_refuse_invalid_keys_and_name_what_is_written() -> None:
    assert label_keys("label") == ("label", "label_score", "doc_label")
    with pytest.raises(ConfigError, match=r"label key '1x' is not valid"):
        label_keys("1x")


@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_round_trip_through_both_syntaxes(where: dict[str, str]) -> None:
    items = [f"{k}={v}" for k, v in where.items()]
    expected = where or None
    assert parse_filters(items) == expected
    assert parse_filter_text(", ".join(f" {item} " for item in items)) == expected


@given(st.text(max_size=30))
def test_no_text_crashes_the_parser_or_yields_an_invalid_key(text: str) -> None:
    try:
        where = parse_filter_text(text)
    except ConfigError:
        return
    assert where is None or all(is_valid_key(k) for k in where)
