"""Claims by their names (auth._claim_paths): plain names, URIs, dotted paths, JSON
Pointers; ambiguous or invalid values refused with what to write instead."""

from __future__ import annotations

from typing import Any

import pytest

from auth._claim_paths import claim_value, expand_audience, parse_claim_reference


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("roles", "roles"),
        ("scp", "scp"),
        # Auth0's namespaced claims: a URI is one claim name, dots and slashes included.
        ("https://example.com/roles", "https://example.com/roles"),
        ("https://example.com/app.roles", "https://example.com/app.roles"),
        ("urn:zitadel:iam:org:project:roles", "urn:zitadel:iam:org:project:roles"),
        ("cognito:groups", "cognito:groups"),
        ("realm_access.roles", "/realm_access/roles"),
        ("resource_access.{audience}.roles", "/resource_access/{audience}/roles"),
        ("a.b~c.d", "/a/b~0c/d"),
        ("/realm_access/roles", "/realm_access/roles"),
        # A one-step pointer is the top-level claim it names.
        ("/roles", "roles"),
        ("/https:~1~1example.com~1roles", "https://example.com/roles"),
        ("/a.b", "a.b"),
        ("/~1x", "/~1x"),  # a claim named "/x" stays a pointer
    ],
)
def test_a_claim_is_named_by_name_uri_dotted_path_or_pointer(value: str, canonical: str) -> None:
    assert parse_claim_reference(value) == canonical


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("realm_access/roles", "write /realm_access/roles for a JSON Pointer"),
        ("example.com/roles", "or /example.com~1roles for one claim"),
        ("a..b", "empty step"),
        (".roles", "empty step"),
        ("roles.", "empty step"),
        ("/a//b", "empty step"),
        ("/", "empty step"),
        ("/a~2b", "~0"),
        ("/a~", "~0"),
        ("", "empty claim name"),
    ],
)
def test_an_ambiguous_or_invalid_value_is_refused_saying_what_to_write(
    value: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says.replace("/", "/").replace(".", r"\.")):
        parse_claim_reference(value)


CLAIMS: dict[str, Any] = {
    "roles": ["r"],
    "https://example.com/roles": ["admin"],
    "realm_access": {"roles": ["kc"], "nothing": None},
    "a.b": ["dotted name"],
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("roles", ["r"]),
        ("https://example.com/roles", ["admin"]),
        ("realm_access.roles", ["kc"]),
        ("/realm_access/roles", ["kc"]),
        ("/a.b", ["dotted name"]),
        ("a.b", "missing"),  # a dotted path always steps into objects
        ("realm_access.roles.more", "missing"),
        ("absent", "missing"),
    ],
)
def test_claim_value_reads_the_canonical_form(value: str, expected: object) -> None:
    assert claim_value(CLAIMS, parse_claim_reference(value), "missing") == expected


def test_a_present_null_is_not_a_missing_claim() -> None:
    # A null is refused like any wrong type where it matters (the scope claims' check).
    assert claim_value(CLAIMS, "/realm_access/nothing", "missing") is None
    assert claim_value({"scope": None}, "scope", "missing") is None


@pytest.mark.parametrize(
    ("reference", "expanded"),
    [
        ("/resource_access/{audience}/roles", "/resource_access/https:~1~1api.example~1t/roles"),
        ("https://example.com/{audience}/roles", "https://example.com/https://api.example/t/roles"),
    ],
)
def test_the_audience_is_escaped_only_inside_a_pointer(reference: str, expanded: str) -> None:
    assert expand_audience(reference, "https://api.example/t") == expanded
