"""app.json_body answers every body as FastAPI answers a declared body parameter: the
same status and the same errors, for valid, invalid and malformed bodies alike."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from app import json_body
from app.models import TodoCreate, TodoUpdate

JSON = "application/json"
BODIES: list[tuple[str | None, bytes]] = [
    (JSON, b'{"text": "buy milk"}'),
    (JSON, b'{"done": true}'),
    (JSON, b'{"text": 42}'),
    (JSON, b'{"text": null}'),
    (JSON, b'{"text": "a", "owner_id": "someone"}'),
    (JSON, b"{}"),
    (JSON, b"[]"),
    (JSON, b'"text"'),
    (JSON, b"1"),
    (JSON, b"null"),
    (JSON, b'{"text": NaN}'),
    (JSON, b'{"text": "a", "text": 1}'),
    (JSON, b'{"text": "\\ud800"}'),
    (JSON, b'{"text": '),
    (JSON, b"\xff\xfe"),
    (JSON, '{"text": "utf-16"}'.encode("utf-16")),
    (JSON, b"[" * 100_000),
    (JSON, b""),
    (None, b'{"text": "no content type"}'),
    (None, b""),
    ("text/plain", b'{"text": "plain"}'),
    ("application/json; charset=utf-8", b'{"text": "charset"}'),
    ("APPLICATION/JSON", b'{"text": "upper case"}'),
    ("application/merge-patch+json", b'{"done": false}'),
    ("application/json/x", b'{"text": "two slashes"}'),
    ("application/a/b+json", b'{"text": "two slashes, +json"}'),
    ("application/jsonx", b'{"text": "another subtype"}'),
    ("application", b'{"text": "no subtype"}'),
]


async def _errors(_: Request, exc: Exception) -> Response:
    # The errors as they are, inputs included (FastAPI's own handler cannot render some:
    # NaN, lone surrogates).
    assert isinstance(exc, RequestValidationError)
    return Response(repr(exc.errors()), status_code=422)


def _app() -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, _errors)
    return app


def _declared(model: type[BaseModel]) -> FastAPI:
    async def endpoint(body: BaseModel) -> dict[str, Any]:
        return body.model_dump(exclude_unset=True)

    endpoint.__annotations__["body"] = model  # a declared body of this model
    app = _app()
    app.post("/body")(endpoint)
    return app


def _read(model: type[BaseModel]) -> FastAPI:
    app = _app()

    @app.post("/body", openapi_extra=json_body.documented(model))
    async def endpoint(request: Request) -> dict[str, Any]:
        return (await json_body.read(request, model)).model_dump(exclude_unset=True)

    return app


async def _answer(app: FastAPI, content_type: str | None, body: bytes) -> tuple[int, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/body", content=body, headers=headers)
    return response.status_code, response.text


@pytest.mark.parametrize("model", [TodoCreate, TodoUpdate])
@pytest.mark.parametrize(("content_type", "body"), BODIES)
async def test_a_body_is_answered_as_fastapi_answers_a_declared_one(
    model: type[BaseModel], content_type: str | None, body: bytes
) -> None:
    expected = await _answer(_declared(model), content_type, body)
    assert await _answer(_read(model), content_type, body) == expected


@pytest.mark.parametrize("model", [TodoCreate, TodoUpdate])
def test_the_body_is_documented_as_fastapi_documents_a_declared_one(
    model: type[BaseModel],
) -> None:
    declared, read = _declared(model).openapi(), _read(model).openapi()
    operation = read["paths"]["/body"]["post"]
    assert operation["requestBody"] == declared["paths"]["/body"]["post"]["requestBody"]
    reference = operation["requestBody"]["content"][JSON]["schema"]["$ref"]
    assert reference == f"#/components/schemas/{model.__name__}"
    schema = declared["components"]["schemas"][model.__name__]
    assert json_body.schemas()[model.__name__] == schema
