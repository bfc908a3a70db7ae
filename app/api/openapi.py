"""The application's OpenAPI document, built in one place.

FastAPI generates the operations, with the error answers each route declares
(``app.api.errors.problem_responses``); this adds the ``Problem`` schema those answers
refer to and the ``DPoP`` security scheme beside ``Bearer`` (``auth.fastapi``), and
writes the configured value of every bound that is a setting
(``app.settings.bounds_from_settings``): the document states the limits the running
server enforces, and the fuzz tier (tests/fuzz) holds the server to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.errors import Problem
from app.settings import SETTING_BOUNDS, AppSettings
from auth.fastapi import SwaggerLogin, add_login_scheme, document_security_schemes

_NULL = {"type": "null"}


def _write_setting_bounds(node: Any, settings: AppSettings) -> None:
    if isinstance(node, dict):
        for keyword, setting in node.pop(SETTING_BOUNDS, {}).items():
            node[keyword] = getattr(settings, setting)
        for value in node.values():
            _write_setting_bounds(value, settings)
    elif isinstance(node, list):
        for value in node:
            _write_setting_bounds(value, settings)


def _parameters_without_null(schema: dict[str, Any]) -> None:
    # An absent parameter is None in the route's signature, which FastAPI documents as
    # "or null"; a query or header value is text or absent, never null.
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        for parameter in operation.get("parameters", []):
            parameter_schema = parameter["schema"]
            members = parameter_schema.get("anyOf", [])
            if _NULL in members:
                members = [member for member in members if member != _NULL]
                del parameter_schema["anyOf"]
                parameter_schema.update(members[0] if len(members) == 1 else {"anyOf": members})


def install_openapi(
    app: FastAPI, settings: AppSettings, *, login: SwaggerLogin | None = None
) -> None:
    """Make ``app.openapi`` build (once) and serve this application's document, with the
    bounds that are ``settings`` and the identity provider's login (``app.api.docs``) when
    configured."""

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
            _write_setting_bounds(schema, settings)
            _parameters_without_null(schema)
            document_security_schemes(schema)
            app.openapi_schema = add_login_scheme(schema, login) if login else schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
