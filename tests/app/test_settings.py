"""Settings (app.settings): .env support, errors that name the variable, .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import AppSettings, TodoAuthSettings, load_settings
from auth import ConfigurationError
from tests.services import ROOT


def _variables() -> set[str]:
    app = {name.upper() for name in AppSettings.model_fields}
    auth = {f"OIDC_{name}".upper() for name in TodoAuthSettings.model_fields}
    return app | auth


def test_env_example_documents_every_variable_and_no_other() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == _variables()


def test_the_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_FORMAT=json\nOIDC_AUDIENCE=from-file\nMETRICS=admin\n")
    monkeypatch.setenv("METRICS", "port")
    settings, auth = load_settings(str(env_file))
    assert (settings.log_format, auth.audience, settings.metrics) == ("json", "from-file", "port")


@pytest.mark.parametrize(
    ("line", "variable"),
    [
        ("API_LISTEN=localhost:eighty", "API_LISTEN"),
        ("METRICS=sometimes", "METRICS"),
        ("OIDC_LEEWAY_SECONDS=-1", "OIDC_LEEWAY_SECONDS"),
        ("OIDC_ISSUER_URI=ftp://idp", "OIDC_ISSUER_URI"),
    ],
)
def test_an_invalid_value_is_named_by_its_variable(
    tmp_path: Path, line: str, variable: str
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(line + "\n")
    with pytest.raises(ConfigurationError, match=rf"^invalid settings: {variable}: ") as raised:
        load_settings(str(env_file))
    assert line.partition("=")[2] not in str(raised.value)


def test_the_log_format_follows_the_environment() -> None:
    assert AppSettings(app_env="production").resolved_log_format == "json"
    assert AppSettings(app_env="development").resolved_log_format == "text"
    assert AppSettings(app_env="production", log_format="text").resolved_log_format == "text"


# The names Kubernetes gives the variables of a Service (here named ``x``):
# X_PORT, X_SERVICE_HOST, X_SERVICE_PORT, X_SERVICE_PORT_<NAME>, X_PORT_<n>_<PROTO>[_...].
_KUBERNETES_SERVICE_VARIABLE = re.compile(
    r".+(_PORT|_SERVICE_HOST|_SERVICE_PORT(_.+)?|_PORT_\d+_.+)"
)


def test_no_setting_has_a_name_kubernetes_injects_for_a_service() -> None:
    assert _KUBERNETES_SERVICE_VARIABLE.fullmatch("API_PORT")  # the checker sees the trap
    assert _KUBERNETES_SERVICE_VARIABLE.fullmatch("API_PORT_8000_TCP_ADDR")
    colliding = {name for name in _variables() if _KUBERNETES_SERVICE_VARIABLE.fullmatch(name)}
    assert not colliding


def test_a_kubernetes_service_link_in_an_old_name_is_ignored_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_PORT", "tcp://10.0.0.7:8000")
    monkeypatch.setenv("METRICS_PORT", "tcp://10.0.0.8:9464")
    settings, _ = load_settings(None)
    assert settings.api_listen == ("127.0.0.1", 8000)
    assert settings.metrics_listen == ("127.0.0.1", 9464)
    assert any("API_PORT is ignored" in notice for notice in settings.notices)


def test_the_old_listen_names_are_read_this_release_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("API_HOST=192.0.2.1\nAPI_PORT=9000\n")
    monkeypatch.setenv("METRICS_PORT", "9999")
    settings, _ = load_settings(str(env_file))
    assert settings.api_listen == ("192.0.2.1", 9000)
    assert settings.metrics_listen == ("127.0.0.1", 9999)
    assert [notice.split(" ")[0] for notice in settings.notices] == ["API_HOST", "METRICS_HOST"]
    assert "API_LISTEN=192.0.2.1:9000" in settings.notices[0]


def test_the_new_listen_name_wins_over_the_old_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_LISTEN", "[::1]:8080")
    monkeypatch.setenv("API_PORT", "9000")
    settings, _ = load_settings(None)
    assert settings.api_listen == ("::1", 8080)
    assert str(settings.api_listen) == "[::1]:8080"
    assert settings.notices == ("API_HOST and API_PORT are ignored: API_LISTEN is set",)


@pytest.mark.parametrize("value", ["8000", "localhost", "host:0", "host:65536", "[::1:80"])
def test_a_listen_address_is_host_and_port(value: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        AppSettings(api_listen=value)


def test_a_postgres_url_as_hosting_platforms_give_it_is_accepted() -> None:
    from app.data.database import backend, sync_database_url

    url = AppSettings(database_url="postgres://user:secret@db.example:5432/app").database_url
    assert backend(url) == "postgresql"
    assert sync_database_url(url) == "postgresql+psycopg://user:secret@db.example:5432/app"


def test_operational_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services import connection_limits

    monkeypatch.setenv("DB_POOL_SIZE", "7")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_SECONDS", "2.5")
    limits = connection_limits(load_settings(None)[0])
    assert (limits.pool_size, limits.statement_timeout_seconds) == (7, 2.5)


# feature: live begin
def test_the_default_socket_cap_leaves_connections_to_http() -> None:
    fields = AppSettings.model_fields
    sockets, connections = fields["live_max_sockets"].default, fields["api_max_connections"].default
    # Sockets are connections: at the defaults, every socket open still leaves a quarter of
    # the connection cap to HTTP requests (docs/limits.md).
    assert sockets <= connections * 3 // 4


# feature: live end
