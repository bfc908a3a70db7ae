"""Application configuration, read from the environment (documented in docs/configuration.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auth import AuthSettings


class AppSettings(BaseSettings):
    """Everything the application reads besides the ``OIDC_*`` settings of ``auth``."""

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    #: ``production`` forbids the development auth modes.
    app_env: Literal["development", "production"] = "development"
    #: SQLite by default (a file in the working directory); PostgreSQL with
    #: ``postgresql+psycopg://user:password@host/db``.
    database_url: str = "sqlite:///./todo.db"
    #: Apply pending Alembic migrations at start-up (turn off when deployments migrate
    #: as a separate step).
    db_migrate_on_start: bool = True
    #: Redis for the DPoP replay store and live-event fan-out across instances.
    redis_url: str | None = None
    #: Origins allowed by CORS (JSON list or space/comma separated).
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    todo_admin_role: str = "todo-admin"
    todo_text_max_length: int = Field(default=500, ge=1, le=10_000)
    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024)
    page_size_default: int = Field(default=20, ge=1)
    page_size_max: int = Field(default=100, ge=1)

    #: Live updates: events queued per socket before a slow client is dropped.
    live_send_queue_size: int = Field(default=256, ge=1)
    #: Live updates: whether a DPoP-bound token must be followed by a DPoP proof in the
    #: socket's first message (``required``), or the upgrade alone suffices (``skip``).
    live_dpop_proof: Literal["required", "skip"] = "required"
    live_proof_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Live updates: how often an open socket's token is verified again, so that a
    #: signing key leaving the issuer's key set closes the sockets its tokens opened.
    live_token_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: Live updates: open sockets per user, and in all, beyond which a new socket is
    #: closed right after its upgrade with 1013 (docs/limits.md).
    live_max_sockets_per_user: int = Field(default=16, ge=1)
    live_max_sockets: int = Field(default=1024, ge=1)
    #: Live updates: the largest client message; a longer one closes the socket (4400).
    live_max_message_bytes: int = Field(default=16 * 1024, ge=1024)

    #: ``python -m app`` only: where to listen and how.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_http: Literal["httptools", "h11"] = "httptools"
    #: uvicorn's access log (tokens redacted). A line per request costs about a third
    #: of a small request's time; turn it off when a proxy logs requests already.
    api_access_log: bool = True
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0)
    #: ``python -m app`` only: what one connection may make the server hold
    #: (app/http_limits.py; docs/limits.md).
    api_max_connections: int = Field(default=2048, ge=1)
    api_max_header_bytes: int = Field(default=64 * 1024, ge=4096)
    api_max_header_line_bytes: int = Field(default=8 * 1024, ge=256)
    api_header_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return tuple(json.loads(stripped))
            return tuple(item for item in stripped.replace(",", " ").split() if item)
        return value

    @model_validator(mode="after")
    def _line_within_head(self) -> AppSettings:
        if self.api_max_header_line_bytes > self.api_max_header_bytes:
            raise ValueError("API_MAX_HEADER_LINE_BYTES exceeds API_MAX_HEADER_BYTES")
        return self

    @property
    def production(self) -> bool:
        return self.app_env == "production"


#: Key of a ``json_schema_extra`` entry whose JSON Schema keywords take a setting's value.
SETTING_BOUNDS = "x-bounds-from-settings"


def bounds_from_settings(**keywords: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field bounded by settings, e.g.
    ``bounds_from_settings(maximum="page_size_max")``: the OpenAPI document states the
    configured value (``app.openapi``), so it cannot drift from what the routes refuse.

    Raises:
        ValueError: a name is not an ``AppSettings`` field.
    """
    if unknown := set(keywords.values()) - set(AppSettings.model_fields):
        raise ValueError(f"not AppSettings fields: {sorted(unknown)}")
    return {SETTING_BOUNDS: keywords}


class TodoAuthSettings(AuthSettings):
    """The library's ``OIDC_*`` settings with this application's defaults: its realm and
    the roles of its development identity (``OIDC_MODE=static``). The environment still
    overrides both."""

    realm: str | None = "todo-api"
    static_roles: Annotated[tuple[str, ...], NoDecode] = ("todo-user", "todo-admin")
