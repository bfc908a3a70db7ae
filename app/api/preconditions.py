"""``If-Match`` on the writes of owned resources (RFC 9110 §13.1.1): the versions a
request names.

A row's ETag is its version, quoted (``"3"``). The field is ``*`` or a list of entity
tags (§8.8.3) whose empty elements a recipient ignores (§5.6.1.2). If-Match compares
strongly (§8.8.3.2), so a weak tag matches nothing, nor does a tag that is no version
(a number beyond the version column's range, ``app.data.owned.VERSION_MAX``, included:
it never reaches the database); the write then answers 412 and changes nothing. A value outside
that syntax is a 422 naming the header: answering it with 412 would send a client that
keeps the bad value round a refetch-and-retry loop.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Header

from app.api.errors import FieldError
from app.data.owned import VERSION_MAX

_ENTITY_TAG = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
# Optional whitespace belongs to the element it precedes, so that no two ways to read a
# run of spaces exist: the match stays linear however the value is built.
_TAG_LIST = rf"(?:{_ENTITY_TAG})?(?:[ \t]*,(?:[ \t]*{_ENTITY_TAG})?)*"
_LIST = re.compile(_TAG_LIST)
_TAG = re.compile(_ENTITY_TAG)
_VERSION = re.compile(r"[0-9]{1,18}")

#: The field's syntax as a JSON Schema pattern (the document states what ``parse_if_match``
#: accepts; ``[ \t]*`` at the ends: HTTP parsers strip that whitespace before the app).
IF_MATCH_PATTERN = rf"^[ \t]*(?:\*|{_TAG_LIST})[ \t]*$"


def if_match_header(noun: str) -> Any:
    """The ``If-Match`` parameter of a write to a ``noun``, documented with its syntax."""
    description = (
        f"Write only if the {noun} is still this version: `*`, or strong ETags as ETag"
        ' returns them (`"3"`, `"3", "4"`). A weak tag (`W/"3"`) or another version matches'
        " nothing: 412, nothing changed. A value outside this syntax is a 422."
    )
    return Annotated[
        str | None,
        Header(
            alias="If-Match",
            description=description,
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ]


def etag_header(noun: str) -> dict[str, Any]:
    """OpenAPI ``headers`` of an answer carrying a ``noun``: the ETag that If-Match takes
    back."""
    return {
        "ETag": {
            "description": f"The {noun}'s version as a strong entity tag; send it back in If-Match",
            "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
            "required": True,
        }
    }


def parse_if_match(value: str | None) -> list[int] | None:
    """The versions ``If-Match`` names: None when absent or ``*`` (any version).

    Raises:
        FieldError: the value is not ``*`` or a list of entity tags.
    """
    if value is None:
        return None
    value = value.strip(" \t")
    if value == "*":
        return None
    if not _LIST.fullmatch(value):
        raise FieldError(
            "If-Match", 'must be * or a list of entity tags such as "3"', location="header"
        )
    versions = (
        int(opaque)
        for weak, opaque in _TAG.findall(value)
        if not weak and _VERSION.fullmatch(opaque)
    )
    return [version for version in versions if version <= VERSION_MAX]
