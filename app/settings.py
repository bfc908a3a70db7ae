"""Application configuration, read from the environment and an optional ``.env`` file
(every variable is listed in ``.env.example`` and documented in docs/configuration.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from dotenv import dotenv_values
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auth import AuthSettings, ConfigurationError, parse_list_setting, read_settings
from auth.fastapi import SwaggerLogin


class ListenAddress(NamedTuple):
    """Where a server listens: a host (name or IP address) and a TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_LISTEN = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]+)):(?P<port>[0-9]{1,5})")


def _listen_address(value: object) -> object:
    if not isinstance(value, str):
        return value
    match = _LISTEN.fullmatch(value.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError("expected host:port, such as 127.0.0.1:8000 or [::1]:8000")
    return ListenAddress(match["ipv6"] or match["host"], int(match["port"]))


#: A ``host:port`` setting.
Listen = Annotated[ListenAddress, NoDecode, BeforeValidator(_listen_address)]


def _database_url(value: object) -> object:
    # Hosting platforms hand out postgres:// URLs, a scheme SQLAlchemy no longer accepts.
    if isinstance(value, str) and value.startswith("postgres://"):
        return "postgresql://" + value.removeprefix("postgres://")
    return value


class AppSettings(BaseSettings):
    """Everything the application reads besides the ``OIDC_*`` settings of ``auth``."""

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    #: ``production`` forbids the development auth modes.
    app_env: Literal["development", "production"] = "development"
    #: SQLite by default (a file in the working directory); PostgreSQL with
    #: ``postgresql://user:password@host/db`` (``postgres://`` and
    #: ``postgresql+psycopg://`` too).
    database_url: Annotated[str, BeforeValidator(_database_url)] = "sqlite:///./todo.db"
    #: PostgreSQL: the most connections the API opens, how long a request waits for one,
    #: how long opening one may take, and the server-side limit on one statement.
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_acquire_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    #: SQLite: how long a write waits for another process's write lock.
    db_busy_timeout_seconds: float = Field(default=5.0, ge=0)
    #: Apply pending Alembic migrations at start-up (turn off when deployments migrate
    #: as a separate step).
    db_migrate_on_start: bool = True
    #: Redis for the DPoP replay store and live-event fan-out across instances.
    redis_url: str | None = None
    #: Connecting to Redis and each command: during an outage a request fails fast (503)
    #: instead of waiting.
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    #: Origins allowed by CORS (JSON list or space/comma separated).
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    todo_admin_role: str = "todo-admin"
    todo_text_max_length: int = Field(default=500, ge=1, le=10_000)  # feature: todo
    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: Page sizes are bound parameters of the list query: bounded well within any
    #: INTEGER a driver binds (32 bits on PostgreSQL).
    page_size_default: int = Field(default=20, ge=1, le=10_000)
    page_size_max: int = Field(default=100, ge=1, le=10_000)

    #: Live updates: events queued per socket before a slow client is dropped.
    live_send_queue_size: int = Field(default=256, ge=1)
    # feature: live begin
    #: Live updates: whether a DPoP-bound token must be followed by a DPoP proof in the
    #: socket's first message (``required``), or the upgrade alone suffices (``skip``).
    live_dpop_proof: Literal["required", "skip"] = "required"
    live_proof_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Live updates: how often an open socket's token is verified again, so that a
    #: signing key leaving the issuer's key set closes the sockets its tokens opened.
    live_token_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: Live updates: open sockets per user, and in all, beyond which a new socket is
    #: closed right after its upgrade with 1013 (docs/limits.md). Sockets are
    #: connections too: the default leaves a quarter of ``API_MAX_CONNECTIONS`` to HTTP.
    live_max_sockets_per_user: int = Field(default=16, ge=1)
    live_max_sockets: int = Field(default=1536, ge=1)
    #: Live updates: sockets whose DPoP-bound token still owes its proof, in all and per
    #: client address; they count against their user only once the proof verified.
    live_max_unproven_sockets: int = Field(default=64, ge=1)
    live_max_unproven_sockets_per_client: int = Field(default=8, ge=1)
    #: Live updates: the largest client message; a longer one closes the socket (4400).
    live_max_message_bytes: int = Field(default=16 * 1024, ge=1024)
    # feature: live end

    #: ``python -m app`` only: where to listen (``host:port``, ``[::1]:8000`` for IPv6) and how.
    api_listen: Listen = ListenAddress("127.0.0.1", 8000)
    api_http: Literal["httptools", "h11"] = "httptools"
    #: One access line per request (``app.access``: request id, route, status, duration,
    #: hashed subject, auth outcome and check; never a token). It replaces uvicorn's
    #: access log; turn it off when a proxy logs requests already.
    api_access_log: bool = True
    #: On shutdown: live sockets get 1001 and this long to go; requests in flight this
    #: long to finish before their connections are closed.
    api_shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0)  # feature: live
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0)  # feature: live
    #: ``python -m app`` only: what one connection may make the server hold
    #: (app/server/http_limits.py; docs/limits.md).
    api_max_connections: int = Field(default=2048, ge=1)
    api_max_header_bytes: int = Field(default=64 * 1024, ge=4096)
    api_max_header_line_bytes: int = Field(default=8 * 1024, ge=256)
    api_header_timeout_seconds: float = Field(default=10.0, gt=0)
    api_body_timeout_seconds: float = Field(default=30.0, gt=0)
    #: A client that reads nothing of what it is sent for this long loses the connection.
    api_send_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Connections one client (address, or forwarded address behind a trusted proxy;
    #: an IPv6 /64) may hold; beyond, 503.
    api_max_connections_per_client: int = Field(default=256, ge=1)

    #: Log lines as one JSON object each (``json``) or aligned text (``text``); unset:
    #: json with ``APP_ENV=production``, text otherwise.
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: The caller's ``sub`` in access lines: ``hashed`` (16 hex digits of an HMAC-SHA256
    #: over issuer and subject, keyed with ``LOG_SUBJECT_KEY``), ``plain`` or ``omitted``.
    log_subject: Literal["hashed", "plain", "omitted"] = "hashed"
    log_subject_key: SecretStr | None = None

    #: Prometheus metrics: ``off``; ``port``, on their own listener (``METRICS_LISTEN``),
    #: open to whoever reaches it; or ``admin``, at ``/metrics`` on
    #: the API for callers holding ``TODO_ADMIN_ROLE``. Off by default: what the API
    #: reveals about its traffic is the operator's choice (docs/operations.md).
    metrics: Literal["off", "port", "admin"] = "off"
    metrics_listen: Listen = ListenAddress("127.0.0.1", 9464)

    #: OpenTelemetry traces over OTLP/HTTP when set (the collector's base URL).
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "todo-api"

    #: A public client of the identity provider allowed to redirect to ``/docs``: turns
    #: on "Authorize" (authorization code + PKCE) in Swagger UI.
    oidc_swagger_client_id: str | None = None
    oidc_swagger_scopes: Annotated[tuple[str, ...], NoDecode] = ("openid",)
    #: Extra parameters of the login's authorization request, a JSON object: Auth0's
    #: ``{"audience": "https://api.example"}``, RFC 8707's ``{"resource": ...}``.
    oidc_swagger_authorization_params: dict[str, str] = Field(default_factory=dict)

    @field_validator("cors_origins", "oidc_swagger_scopes", mode="before")
    @classmethod
    def _word_list(cls, value: object) -> object:
        return parse_list_setting(value)

    @field_validator("oidc_swagger_authorization_params")
    @classmethod
    def _login_parameters(cls, value: dict[str, str]) -> dict[str, str]:
        return SwaggerLogin.checked_parameters(value)

    @model_validator(mode="after")
    def _line_within_head(self) -> AppSettings:
        if self.api_max_header_line_bytes > self.api_max_header_bytes:
            raise ValueError("API_MAX_HEADER_LINE_BYTES exceeds API_MAX_HEADER_BYTES")
        return self

    #: What reading the settings found worth saying at start-up (old names still read).
    _notices: tuple[str, ...] = PrivateAttr(default=())

    @property
    def notices(self) -> tuple[str, ...]:
        return self._notices

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def resolved_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.production else "text"


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
    """The library's ``OIDC_*`` settings with this application's defaults: its realm, the
    roles of its development identity (``OIDC_MODE=static``) and where its RFC 9728
    metadata says the documentation is. The environment still overrides them."""

    realm: str | None = "todo-api"
    static_roles: Annotated[tuple[str, ...], NoDecode] = ("todo-user", "todo-admin")
    resource_documentation: str | None = "/docs"


#: Read by ``python -m app`` and ``uvicorn app.main:app`` from the working directory;
#: variables set in the environment win over the file (pydantic-settings' order).
ENV_FILE = ".env"


#: Names still read for one release, each with a notice at start-up. They collide with
#: the variables Kubernetes injects for a Service (a Service named ``api`` gives every pod
#: ``API_PORT=tcp://10.0.0.7:8000``): no setting ends in ``_PORT``, ``_SERVICE_HOST`` or
#: ``_SERVICE_PORT``, and none contains ``_PORT_`` (docs/configuration.md).
RENAMED_LISTENERS = {"API": "api_listen", "METRICS": "metrics_listen"}


def _renamed_listeners(env_file: str | None) -> tuple[dict[str, str], list[str]]:
    """``API_HOST``/``API_PORT`` and ``METRICS_HOST``/``METRICS_PORT`` as the listen
    settings that replace them, and a notice for each old name read or ignored."""
    file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
    values = {k: v for k, v in file_values.items() if v is not None} | dict(os.environ)
    found: dict[str, str] = {}
    notices: list[str] = []
    for prefix, field in RENAMED_LISTENERS.items():
        new = field.upper()
        host, port = values.get(f"{prefix}_HOST"), values.get(f"{prefix}_PORT")
        if host is None and port is None:
            continue
        if port is not None and not port.strip().isdigit():
            # tcp://10.0.0.7:8000: the link Kubernetes injects for a Service, not a setting.
            notices.append(
                f"{prefix}_PORT is ignored: it is not a port number (a Kubernetes "
                f"Service link?); {new} sets where to listen"
            )
            port = None
        if new in values:
            if host is not None or port is not None:
                notices.append(f"{prefix}_HOST and {prefix}_PORT are ignored: {new} is set")
            continue
        if host is None and port is None:
            continue
        default = AppSettings.model_fields[field].default
        host_value = host if host is not None else default.host
        address = f"[{host_value}]" if ":" in host_value else host_value
        found[field] = f"{address}:{port if port is not None else default.port}"
        notices.append(
            f"{prefix}_HOST and {prefix}_PORT are renamed {new} (host:port); "
            f"read as {new}={found[field]} this release only"
        )
    return found, notices


def load_settings(env_file: str | None = ENV_FILE) -> tuple[AppSettings, TodoAuthSettings]:
    """Both settings objects, from the environment and ``env_file`` when it exists.
    ``AppSettings.notices`` says what was read under an old name.

    Raises:
        ConfigurationError: a value is invalid; the message names the variable, never
            its value (it may be a secret).
    """
    renamed, notices = _renamed_listeners(env_file)
    try:
        settings = AppSettings(_env_file=env_file, **renamed)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"{str(error['loc'][0]).upper()}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None
    settings._notices = tuple(notices)
    # The library's reader: its errors name the OIDC_* variable, and an OIDC_* variable
    # that is no setting (the application's own OIDC_SWAGGER_* aside) is warned about.
    oidc_names = [name.upper() for name in AppSettings.model_fields if name.startswith("oidc_")]
    return settings, read_settings(TodoAuthSettings, env_file=env_file, known_elsewhere=oidc_names)
