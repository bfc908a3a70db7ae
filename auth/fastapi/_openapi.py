"""The OpenAPI document's security requirements, walked in one place: wherever an
operation accepts ``Bearer``, another scheme that yields or replaces a bearer token
(``DPoP``; the Swagger UI login) is offered beside it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def offer_beside_bearer(
    schema: dict[str, Any], name: str, scopes: Callable[[list[str]], list[str]]
) -> dict[str, Any]:
    """Add ``{name: scopes(bearer_scopes)}`` as an alternative to every ``Bearer``
    requirement of every operation (once: walking the document again adds nothing).
    Returns ``schema``, changed in place."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if not security:
                continue
            for requirement in list(security):
                if "Bearer" not in requirement:
                    continue
                alternative = {name: scopes(requirement["Bearer"])}
                if alternative not in security:
                    security.append(alternative)
    return schema
