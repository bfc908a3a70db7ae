"""The problem document (RFC 9457): the one JSON shape of every refusal, written once.

Refusals of the verifier (``auth.fastapi``, ``auth.asgi``, ``auth.sync``), of the Host
guard and of an application built on this package (its own errors, its server's
limits) all build their body here, so a client parses one shape.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


def problem_document(status: int, detail: str, **members: Any) -> dict[str, Any]:
    """An RFC 9457 problem document: ``type`` ``about:blank`` (§4.2.1: the status says
    it all), the status's ``title``, ``status`` and ``detail``, then ``members`` (an
    extension member whose value is None is left out).

    Raises:
        ValueError: ``status`` is not an HTTP status code.
    """
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    document.update((name, value) for name, value in members.items() if value is not None)
    return document


def problem_json(status: int, detail: str, **members: Any) -> bytes:
    """``problem_document`` serialised, compact and UTF-8 (as Starlette's ``JSONResponse``
    writes it)."""
    return json.dumps(
        problem_document(status, detail, **members), ensure_ascii=False, separators=(",", ":")
    ).encode()
