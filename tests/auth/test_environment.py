"""Settings read from the environment (auth._environment): an invalid value is one
sentence naming the variable, with no traceback; an OIDC_* variable that is no setting is
reported with the nearest known name."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from auth import AuthSettings, ConfigurationError, read_settings
from auth._environment import unknown_variables


@pytest.fixture(autouse=True)
def _no_oidc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OIDC_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("OIDC_LEEWAY_SECONDS", "-1", "greater than or equal to 0"),
        ("OIDC_ISSUER_URI", "ftp://idp.example", "absolute http(s) URL"),
        ("OIDC_ALGORITHMS", "HS256", "non-empty subset"),
        ("OIDC_ACCEPTED_TYP", "dpop+jwt", "may list at+jwt"),
        ("OIDC_ROLE_CLAIMS", "realm_access/roles", "ambiguous: write /realm_access/roles"),
        ("OIDC_SCOPE_CLAIMS", "a..b", "empty step"),
        ("OIDC_DPOP_NONCE", "sometimes", "valid boolean"),
        ("OIDC_ISSUERS", "[{", "must be a JSON list of objects"),
    ],
)
def test_an_invalid_value_is_one_sentence_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as refused:
        read_settings()
    message = str(refused.value)
    assert message.startswith(f"invalid settings: {variable}: ")
    assert says in message
    assert "\n" not in message
    assert "validation error" not in message  # not pydantic's report
    assert "issuer_uri" not in message.replace("OIDC_ISSUER_URI", "")  # no field names
    # No chained pydantic traceback under it.
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__


def test_an_entry_of_oidc_issuers_is_named_by_its_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "OIDC_ISSUERS",
        '[{"issuer": "https://a.example", "audience": "x"},'
        ' {"issuer": "https://b.example", "audience": "x", "role_claims": "a/b"}]',
    )
    with pytest.raises(ConfigurationError, match=r"OIDC_ISSUERS\[1\]\.role_claims: 'a/b' is"):
        read_settings()


def test_a_secret_value_is_never_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_DPOP_NONCE_LIFETIME_SECONDS", "s3cr3t-looking")
    with pytest.raises(ConfigurationError) as refused:
        read_settings()
    assert "s3cr3t-looking" not in str(refused.value)


def test_settings_contradicting_each_other_are_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OIDC_ISSUER_URI", "https://idp.example")
    monkeypatch.setenv("OIDC_ISSUERS", '[{"issuer": "https://a.example", "audience": "x"}]')
    with pytest.raises(ConfigurationError, match="set either OIDC_ISSUERS or OIDC_ISSUER_URI"):
        read_settings()


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        (
            "OIDC_ACCEPT_JWT_TYP",
            'it was replaced by OIDC_ACCEPTED_TYP (its true is OIDC_ACCEPTED_TYP="at+jwt jwt")',
        ),
        ("OIDC_AUDIENCES", "did you mean OIDC_AUDIENCE?"),
        ("OIDC_ISSUER", "did you mean OIDC_ISSUERS or OIDC_ISSUER_URI?"),
        ("OIDC_ISSUER_URL", "did you mean OIDC_ISSUER_URI or OIDC_ISSUERS?"),
        ("OIDC_ROLE_CLAIM", "did you mean OIDC_ROLE_CLAIMS?"),
        ("OIDC_DPOP_NONCES", "did you mean OIDC_DPOP_NONCE?"),
        ("OIDC_FROBNICATE", "no setting has a similar name"),
    ],
)
def test_an_unknown_oidc_variable_is_reported_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str, hint: str
) -> None:
    monkeypatch.setenv(variable, "some-value")
    with caplog.at_level(logging.WARNING, logger="auth.settings"):
        read_settings()
    (record,) = [r for r in caplog.records if r.name == "auth.settings"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"{variable} is not a setting of auth and is ignored: {hint}"
    assert "some-value" not in record.getMessage()  # the name, never the value


def test_unknown_variables_in_the_env_file_are_reported_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OIDC_AUDIENCE=api\nOIDC_ACCEPT_JWT_TYP=jwt\nAPP_ENV=production\n")
    with caplog.at_level(logging.WARNING, logger="auth.settings"):
        settings = read_settings(env_file=env_file)
    assert settings.audience == "api"
    assert [r.getMessage().split()[0] for r in caplog.records] == ["OIDC_ACCEPT_JWT_TYP"]


def test_names_the_application_reads_itself_are_not_reported() -> None:
    names = ["OIDC_SWAGGER_CLIENT_ID", "OIDC_AUDIENCE", "PATH", "oidc_mode", "OIDC_TYPO"]
    sentences = unknown_variables(AuthSettings, names, known_elsewhere=["OIDC_SWAGGER_CLIENT_ID"])
    assert [sentence.split()[0] for sentence in sentences] == ["OIDC_TYPO"]


def test_every_setting_is_a_known_name() -> None:
    names = [f"OIDC_{field.upper()}" for field in AuthSettings.model_fields]
    assert unknown_variables(AuthSettings, names) == []
