"""The application's OpenAPI document, built in one place.

FastAPI generates the operations, with the error answers each route declares
(``app.errors.problem_responses``); this adds the ``Problem`` schema those answers
refer to, the bodies the routes read themselves (``app.json_body``) and the ``DPoP``
security scheme beside ``Bearer`` (``auth.fastapi``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app import json_body
from app.docs import SwaggerLogin, add_login_scheme
from app.errors import Problem
from auth.fastapi import document_security_schemes


def install_openapi(app: FastAPI, *, login: SwaggerLogin | None = None) -> None:
    """Make ``app.openapi`` build (once) and serve this application's document, with the
    identity provider's login (``app.docs``) when configured."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            components.update(json_body.schemas())
            document_security_schemes(schema)
            app.openapi_schema = add_login_scheme(schema, login) if login else schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
