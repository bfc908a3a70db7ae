"""The OpenAPI document states what the server enforces: bounds that are settings carry
the configured values, nothing the server refuses as null is documented as nullable, and
the patterns accept exactly what the routes accept. Patterns are read by a JSON Schema
validator (jsonschema-rs, ECMA-262 regular expressions as JSON Schema says), not by
Python's ``re``: a client's validator reads them that way."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import jsonschema_rs
import pytest

from app.api.errors import FieldError
from app.api.preconditions import parse_if_match
from app.data.text import BLANK_CHARACTERS
from app.main import create_app
from app.settings import SETTING_BOUNDS, AppSettings, bounds_from_settings
from tests.app.conftest import Api


def document(**settings: Any) -> dict[str, Any]:
    application = create_app(AppSettings(database_url="sqlite://", **settings))
    return application.openapi()


def parameter(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
    schema: dict[str, Any] = found["schema"]
    return schema


def body_schema(spec: dict[str, Any], model: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][model]
    return schema


@pytest.mark.parametrize("page_size_max", [100, 7])
def test_the_page_size_maximum_is_the_configured_page_size_max(page_size_max: int) -> None:
    limit = parameter(document(page_size_max=page_size_max), "/api/todos", "get", "limit")
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, page_size_max)


@pytest.mark.parametrize("text_max_length", [500, 42])
def test_the_text_length_is_the_configured_todo_text_max_length(text_max_length: int) -> None:
    spec = document(todo_text_max_length=text_max_length)
    for model in ("TodoCreate", "TodoUpdate"):
        assert body_schema(spec, model)["properties"]["text"]["maxLength"] == text_max_length


def test_no_marker_for_a_setting_is_left_in_the_document() -> None:
    assert SETTING_BOUNDS not in json.dumps(document())


def test_a_bound_names_a_setting_that_exists() -> None:
    with pytest.raises(ValueError, match="page_size_maximum"):
        bounds_from_settings(maximum="page_size_maximum")


def test_patch_fields_may_be_omitted_but_are_never_null() -> None:
    update = body_schema(document(), "TodoUpdate")
    assert update["minProperties"] == 1
    assert "required" not in update
    assert update["additionalProperties"] is False
    validator = jsonschema_rs.validator_for(update)
    assert validator.is_valid({"done": True})
    assert validator.is_valid({"text": "milk"})
    for invalid in ({}, {"done": None}, {"text": None}, {"text": "milk", "done": None}):
        assert not validator.is_valid(invalid), invalid


def test_no_parameter_is_documented_as_nullable() -> None:
    # A query or header value is text or absent: "or null" documents nothing a client can send.
    for path in document()["paths"].values():
        for operation in path.values():
            for documented in operation.get("parameters", []):
                assert "null" not in json.dumps(documented["schema"]), documented


def test_blank_characters_are_what_str_strip_removes() -> None:
    every_character = "".join(map(chr, range(sys.maxunicode + 1)))
    documented = set(re.findall(f"[{BLANK_CHARACTERS}]", every_character))
    assert documented == {character for character in every_character if character.isspace()}


# Every character str.strip removes, alone and beside a letter, and the ones ECMA-262's \s
# and Python's str.isspace disagree on (U+FEFF is \s only; U+001C..U+001F isspace only).
BLANKS = [chr(code) for code in (*range(9, 14), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680)] + [
    chr(code) for code in (*range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
]
TEXTS = [
    *BLANKS,
    *(f"{blank}a{blank}" for blank in BLANKS),
    "\ufeff",
    "\u200b",
    "milk",
    "\x00",
    "milk\x00",
    "",
    "x" * 500,
    "x" * 501,
]


async def test_the_text_pattern_accepts_what_the_routes_accept(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    validator = jsonschema_rs.validator_for(body_schema(spec, "TodoCreate"))
    alice = api.caller()
    for text in TEXTS:
        response = await alice.post("/api/todos", json={"text": text})
        assert (response.status_code == 201) == validator.is_valid({"text": text}), repr(text)


async def test_the_cursor_pattern_accepts_what_next_cursor_holds(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    validator = jsonschema_rs.validator_for(parameter(spec, "/api/todos", "get", "cursor"))
    alice = api.caller()
    for text in ("one", "two"):
        await alice.create(text)
    cursor = (await alice.get("/api/todos", params={"limit": 1})).json()["next_cursor"]
    assert validator.is_valid(cursor)
    assert (await alice.get("/api/todos", params={"cursor": cursor})).status_code == 200
    for refused in ("", f"{cursor}==", f"{cursor[:-1]}!", cursor[:-1]):
        assert not validator.is_valid(refused)
        assert (await alice.get("/api/todos", params={"cursor": refused})).status_code == 422


IF_MATCH_VALUES = [
    *("*", '"3"', 'W/"3", "4"', '"a,b"', '"\xff"', "", '"3", , "4",', ' "3"\t'),
    *("3", '"3', 'W/ "3"', '"3" "4"', '"3";"4"', '*, "3"', "**", '"\x7f"'),
]


def test_the_if_match_pattern_accepts_what_the_parser_accepts() -> None:
    spec = document()
    validator = jsonschema_rs.validator_for(
        parameter(spec, "/api/todos/{todo_id}", "patch", "If-Match")
    )
    assert parameter(spec, "/api/todos/{todo_id}", "delete", "If-Match") == parameter(
        spec, "/api/todos/{todo_id}", "patch", "If-Match"
    )
    for value in IF_MATCH_VALUES:
        try:
            parse_if_match(value)
            accepted = True
        except FieldError:
            accepted = False
        assert validator.is_valid(value) == accepted, repr(value)
