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
        ("API_PORT=eighty", "API_PORT"),
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
