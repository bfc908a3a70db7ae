"""The request bodies of owned resources: strict, closed, and for an update, every field
optional but never null.

Plain pydantic models, not SQLModel: they are validated on every write. Strict, so
``"yes"`` is not ``True`` (pydantic's lax mode would take it); closed, so a field the
resource does not have is a 422, not silently dropped.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.config import JsonDict


class CreateBody(BaseModel):
    """The body of a create: subclass it with the fields a client sets."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _omittable_not_nullable(schema: JsonDict) -> None:
    # An omitted field is left as it is and null is refused (``_not_null``): the document
    # shows each field's non-null type alone, no null default, and asks for one field.
    properties = cast(dict[str, dict[str, Any]], schema["properties"])
    for field_schema in properties.values():
        field_schema.pop("default", None)
        members = field_schema.pop("anyOf", None)
        if members is not None:
            (member,) = [member for member in members if member != {"type": "null"}]
            field_schema.update(member)
    schema["minProperties"] = 1


class UpdateBody(BaseModel):
    """The body of a partial update: subclass it with each field as ``T | None = None``.
    A field left out keeps its value; null is refused (a column that a client may clear
    needs a body of its own)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra=_omittable_not_nullable
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Validators run only for fields present in the body: omitting a field is
        # fine, sending null is not.
        if value is None:
            raise ValueError("must not be null")
        return value
