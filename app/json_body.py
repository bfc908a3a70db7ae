"""JSON request bodies read by the routes themselves, answered and documented as FastAPI
answers and documents a declared body parameter.

For a declared body FastAPI parses the content type with ``email.message``, then the
body, then validates it through its parameter machinery: together a measurable share of
a write (bench/README.md, section 6). ``read`` takes the same steps directly, with the
same answers, which ``tests/app/test_json_body.py`` holds against FastAPI's own:

* a body that is not JSON (or cannot be read): 400;
* a missing body, a body of another content type, an invalid field: 422, every error's
  ``loc`` starting with ``body`` as FastAPI's do.

``documented`` is the route's ``requestBody`` in OpenAPI, the one FastAPI would write;
``schemas`` are the models it refers to, for ``components``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)

_NO_BODY = object()
#: Models named by ``documented``, by name: ``schemas`` puts them in ``components``.
_DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a required ``model`` body with ``read``."""
    _DOCUMENTED[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def schemas(ref_template: str = "#/components/schemas/{model}") -> dict[str, Any]:
    """The JSON schemas of the documented models (and of the models they use)."""
    out: dict[str, Any] = {}
    for name, model in _DOCUMENTED.items():
        schema = model.model_json_schema(ref_template=ref_template, mode="validation")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out


def _is_json(content_type: str) -> bool:
    # The media type as email.message reads it for FastAPI: parameters dropped, case
    # ignored, and anything without exactly one "/" taken for text/plain.
    media = content_type.partition(";")[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    if media.count("/") != 1:
        return False
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _value(request: Request) -> Any:
    """The body as FastAPI hands it to validation: parsed when its type is JSON, the raw
    bytes otherwise, ``_NO_BODY`` when there is none.

    Raises:
        json.JSONDecodeError: a JSON body that does not parse.
        HTTPException: the body could not be read or decoded (400).
    """
    try:
        raw = await request.body()
        content_type = request.headers.get("content-type")
        if raw and content_type and _is_json(content_type):
            return json.loads(raw)
    except json.JSONDecodeError:
        raise
    except Exception as exc:
        # What FastAPI answers for a body it cannot read or decode (a client gone, a body
        # over the limit: BodySizeLimit replaces that answer with its 413).
        raise HTTPException(400, "There was an error parsing the body") from exc
    return raw or _NO_BODY


async def read(request: Request, model: type[Model]) -> Model:
    """The request's body as ``model``.

    Raises:
        RequestValidationError: the body is not JSON (answered 400), or is missing or
            invalid (422).
        HTTPException: the body could not be read (400).
    """
    errors: list[dict[str, Any]]
    try:
        value = await _value(request)
    except json.JSONDecodeError as exc:
        errors = [
            {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
        ]
        raise RequestValidationError(errors, body=exc.doc) from exc
    if value is _NO_BODY:
        errors = [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        raise RequestValidationError(errors)
    try:
        # from_attributes, as FastAPI validates: the errors for a body that is not an
        # object are then the same.
        return model.model_validate(value, from_attributes=True)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=value) from None
