"""``/docs`` (Swagger UI) and ``/redoc`` without the internet, and a login from ``/docs``.

The HTML pages may not be framed (CSP ``frame-ancestors 'none'``, and ``X-Frame-Options:
DENY`` for older browsers): another site could otherwise show them in a frame and lure a
user into clicking "Authorize" or "Execute" there (clickjacking).

The pages' scripts and styles come from the ``fastapi-offline`` package, served by the
app under ``/static/docs`` (FastAPI's defaults load them from a CDN). With
``OIDC_SWAGGER_CLIENT_ID`` set, "Authorize" logs in at the identity provider
(``auth.fastapi.SwaggerLogin``: authorization code with PKCE, endpoints from discovery).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from auth.fastapi import SwaggerLogin

ASSETS_PATH = "/static/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
#: The headers of every documentation page: no site may frame it.
NO_FRAMING = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def _unframed(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(NO_FRAMING)
    return page


def _under_root(request: Request, **paths: str) -> dict[str, Any]:
    """The app's own ``paths`` as a browser must ask for them: behind the root path the
    app is served under (a proxy's prefix)."""
    root = request.scope.get("root_path", "")
    return {name: f"{root}{path}" for name, path in paths.items()}


def install_docs(app: FastAPI, *, login: SwaggerLogin | None) -> None:
    """Serve ``/docs``, its OAuth 2 redirect page, ``/redoc`` and their assets.
    Build ``app`` with ``docs_url=None, redoc_url=None``."""
    app.mount(
        ASSETS_PATH,
        StaticFiles(directory=str(files("fastapi_offline") / "static")),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            title=f"{app.title} - Swagger UI",
            init_oauth=login.init_oauth() if login else None,
            **_under_root(
                request,
                openapi_url=f"{app.openapi_url}",
                oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            ),
        )
        return _unframed(page)

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _unframed(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            title=f"{app.title} - ReDoc",
            with_google_fonts=False,
            **_under_root(
                request,
                openapi_url=f"{app.openapi_url}",
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            ),
        )
        return _unframed(page)
