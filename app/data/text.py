"""Texts the API accepts in a row's fields: no NUL, not blank (unless a field allows it),
at most a length (which may be a setting).

The rule is stated twice on purpose, once for each reader: as a JSON Schema pattern in
the OpenAPI document (what a client's validator checks) and as ``check_text`` (what the
server enforces, with its own messages). tests/app/test_openapi.py holds the two to the
same answers.
"""

from __future__ import annotations

from typing import Any

from app.data.owned import InvalidField
from app.settings import bounds_from_settings

#: What ``str.strip`` removes (``str.isspace``), spelled out: the ``\s`` of ECMA-262
#: (JSON Schema's regex dialect) and of Rust's regex (pydantic's) are other sets.
BLANK_CHARACTERS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: A character that is not blank, and no NUL anywhere (PostgreSQL cannot store NUL).
TEXT_PATTERN = rf"^[^\x00]*[^\x00{BLANK_CHARACTERS}][^\x00]*$"
#: No NUL anywhere; blank or empty is fine.
ANY_TEXT_PATTERN = r"^[^\x00]*$"


def text_schema(
    max_length_setting: str | None = None, *, allow_blank: bool = False
) -> dict[str, Any]:
    """``json_schema_extra`` of a text field: its pattern, and the maximum length the
    setting ``max_length_setting`` configures, if any (``app.api.openapi`` writes the
    value). Documented, not enforced by pydantic: ``check_text`` refuses with its own
    messages."""
    schema: dict[str, Any] = {"pattern": ANY_TEXT_PATTERN if allow_blank else TEXT_PATTERN}
    if max_length_setting is not None:
        schema |= bounds_from_settings(maxLength=max_length_setting)
    return schema


def check_text(
    field: str, value: object, *, max_length: int | None = None, allow_blank: bool = False
) -> None:
    """Refuse a text that is blank (unless ``allow_blank``), longer than ``max_length``
    or holds a NUL.

    Raises:
        InvalidField: naming ``field``.
    """
    if not isinstance(value, str):
        return  # the request model has checked the type already
    if not allow_blank and not value.strip():
        raise InvalidField(field, "must not be empty or only whitespace")
    if max_length is not None and len(value) > max_length:
        raise InvalidField(field, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidField(field, "must not contain NUL characters")
