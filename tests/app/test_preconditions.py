"""If-Match (RFC 9110 §13.1.1): the versions a value names; a value outside the syntax is
refused (tests/app/test_openapi.py holds the documented pattern to the same values)."""

from __future__ import annotations

import pytest

from app.api.errors import FieldError
from app.api.preconditions import parse_if_match
from tests.linear_time import assert_linear, fit


@pytest.mark.parametrize(
    ("value", "versions"),
    [
        (None, None),
        ("*", None),
        (" *\t", None),
        ('"3"', [3]),
        ('"3", "4"', [3, 4]),
        ('"3",\t"4" , "5"', [3, 4, 5]),
        ('W/"3"', []),  # If-Match compares strongly (§8.8.3.2)
        ('W/"3", "4"', [4]),
        ('"abc"', []),  # a tag, but no version of ours
        ('"a,b", "2"', [2]),  # a comma inside a tag does not split it
        ('""', []),
        ('"00012"', [12]),
        ('"1234567890123456789"', []),  # beyond any version
        ('"²"', []),  # obs-text, not a digit
        ("", []),  # an empty list (§5.6.1) names no version
        ('"3", , "4",', [3, 4]),  # a recipient ignores empty elements (§5.6.1.2)
    ],
)
def test_if_match_names_the_strong_versions_it_lists(
    value: str | None, versions: list[int] | None
) -> None:
    assert parse_if_match(value) == versions


@pytest.mark.parametrize(
    "value",
    ["3", '"3', '3"', 'w/"3"', 'W/ "3"', '"3" "4"', '"3";"4"', '*, "3"', "**", '"a"b"', '"\x7f"'],
)
def test_if_match_outside_its_syntax_is_refused_naming_the_header(value: str) -> None:
    with pytest.raises(FieldError) as refused:
        parse_if_match(value)
    assert (refused.value.field, refused.value.location) == ("If-Match", "header")


def _parsed_or_refused(value: str) -> object:
    try:
        return parse_if_match(value)
    except FieldError:
        return None


@pytest.mark.parametrize(
    ("name", "worst"),
    [
        ("an unterminated tag", '"' + fit("3")),
        ("commas and spaces", fit(" ,")),
        ("weak prefixes", fit('W/"')),
        ("quotes", fit('"')),
        ("tags without commas", fit('"3" ')),
        ("a bad last character", fit('"3", ') + "x"),
    ],
)
def test_if_match_is_read_in_time_linear_in_its_length(name: str, worst: str) -> None:
    # Its value is the client's: a pattern that backtracked would stall the event loop.
    assert_linear(_parsed_or_refused, worst={name: worst}, plain=fit('"3", '))
