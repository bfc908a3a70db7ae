"""The JSON nesting bound (auth._json_nesting): exact on JSON, never lower than what the
parser would recurse into, the same on every interpreter, linear in its input."""

from __future__ import annotations

import json

import pytest

from auth import json_nesting_exceeds
from auth._json_nesting import MAX_JSON_NESTING
from tests.linear_time import assert_linear, fit


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


DOCUMENTS = [
    "{}",
    "[]",
    "1",
    '"["',
    '{"a": [1, {"b": []}]}',
    '{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
    '{"a\\"[[[[[[[[[[": "\\\\", "b": [[["\\"]]]"]]]}',
    json.dumps({"resource_access": {f"client-{i}": {"roles": ["a"]} for i in range(50)}}),
    "[" * 33 + "]" * 33,
    "[" * 32 + "]" * 32,
    json.dumps([[["x"] * 40]]),
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("limit", [0, 1, 2, 3, 32])
def test_the_bound_is_exact_on_json(document: str, limit: int) -> None:
    expected = _depth(json.loads(document)) > limit
    assert json_nesting_exceeds(document, limit) is expected
    assert json_nesting_exceeds(document.encode(), limit) is expected
    assert json_nesting_exceeds(bytearray(document.encode()), limit) is expected


@pytest.mark.parametrize(
    "document",
    [
        "[" * 5000,  # never closed: the parser recurses 5,000 levels before failing
        "[" * 40 + '"',  # a string never closed, after the arrays
        "[" * 40 + "\\",  # a stray backslash, after the arrays
        "[" * 20 + "{" * 20 + "}" * 5,
    ],
)
def test_what_is_not_json_is_never_counted_lower_than_the_parser_would_recurse(
    document: str,
) -> None:
    assert json_nesting_exceeds(document, MAX_JSON_NESTING)


def test_the_default_limit_allows_what_providers_send() -> None:
    keycloak = {"realm_access": {"roles": ["a"]}, "resource_access": {"c": {"roles": ["r"]}}}
    jwks = {"keys": [{"kty": "RSA", "x5c": ["MIIC"]}]}
    assert not json_nesting_exceeds(json.dumps(keycloak))
    assert not json_nesting_exceeds(json.dumps(jwks))


def test_the_bound_does_not_depend_on_the_interpreters_recursion_limit(
    parser_as_deep_as_python_313: None,
) -> None:
    document = "[" * 5000 + "]" * 5000
    assert json.loads(document)  # what Python 3.13 does at any recursion limit
    assert json_nesting_exceeds(document)


@pytest.mark.parametrize(
    ("name", "worst"),
    [
        ("open brackets", fit("[")),
        ("brackets in strings", fit('"[[[[",')),
        ("escapes", fit('\\"[')),
        ("nested then closed", fit("[") + fit("]")),
    ],
)
def test_the_scan_takes_time_linear_in_its_input(name: str, worst: str) -> None:
    # Plain: as many brackets as the worst cases, so that both take the exact scan.
    plain = fit('{"a": [1, 2], "b": {"c": "d"}}, ')
    assert_linear(lambda text: json_nesting_exceeds(text, 32), worst={name: worst}, plain=plain)
