"""``python -m auth.doctor`` as a command (auth.doctor.main, in process): one meaning per
exit code, JSON on request, hostile numbers reported rather than crashing, and a client
secret that never has to be an argument. The same as a subprocess against an issuer over
HTTP is in tests/integration/test_doctor.py."""

from __future__ import annotations

import argparse
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from auth._diagnosis import Diagnosis
from auth.doctor import CLIENT_SECRET_VARIABLE, ExitCode, UsageError, client_secret, main
from auth.testing import DpopKey, TestIssuer
from tests.auth.attacks import issuer_key, raw_json, sign_raw
from tests.services import free_port, issuer_server


@pytest.fixture(autouse=True)
def no_oidc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def served() -> Iterator[TestIssuer]:
    with issuer_server() as issuer:
        yield issuer


def _run(
    issuer: TestIssuer, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(["--issuer", issuer.issuer, "--audience", issuer.audience, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_accepted_token_exits_0(served: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(served, served.token(), capsys=capsys)
    assert code == ExitCode.ACCEPTED.value == 0
    assert out.rstrip().endswith("result: accepted")


def test_a_refused_token_exits_1(served: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(served, served.token(aud="another-api"), capsys=capsys)
    assert code == ExitCode.REFUSED.value == 1
    assert out.rstrip().endswith("result: refused at aud")


@pytest.mark.parametrize(
    "args",
    [
        ["--proof", "x.y.z"],
        ["--url", "https://api.example/todos"],
        ["--proof", "x.y.z", "--url", "not a url"],
        ["--client-secret", "-"],
    ],
    ids=["proof-without-url", "url-without-proof", "bad-url", "secret-without-client"],
)
def test_a_usage_error_exits_2_and_checks_nothing(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = _run(served, served.token(), *args, capsys=capsys)
    assert code == ExitCode.USAGE.value == 2
    assert out == ""
    assert err.startswith("error: ")


def test_no_token_is_a_usage_error(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code, out, err = _run(served, capsys=capsys)
    assert (code, out) == (2, "")
    assert "no token" in err


def test_no_issuer_is_a_usage_error_in_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--json", "x.y.z"])
    out, err = capsys.readouterr()
    assert code == 2
    assert json.loads(out) == {
        "doctor": 1,
        "result": "error",
        "exit_code": 2,
        "message": "no issuer: pass --issuer and --audience, or set OIDC_*",
    }
    assert "--issuer" in err


def test_keys_that_cannot_be_fetched_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    # An issuer on a port nothing listens on: the verdict cannot be known.
    unreachable = TestIssuer(f"http://127.0.0.1:{free_port()}/realms/todo")
    code, out, _ = _run(unreachable, unreachable.token(), "--json", capsys=capsys)
    assert code == ExitCode.UNDECIDED.value == 3
    document = json.loads(out)
    assert (document["result"], document["decided_by"]["check"]) == (
        "undecided",
        "keys_unavailable",
    )


def test_a_bug_exits_4_never_as_if_refused(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Diagnosis, "run", broken)
    code, out, err = _run(served, served.token(), capsys=capsys)
    assert code == ExitCode.INTERNAL_ERROR.value == 4
    assert out == ""
    assert "internal error (RuntimeError): a bug" in err


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1" + "0" * 400, "-" + "9" * 400])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_an_out_of_range_date_is_diagnosed_with_exit_1_and_no_traceback(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], claim: str, literal: str
) -> None:
    kid, _ = issuer_key(served)
    claims = {name: value for name, value in served.claims().items() if name != claim}
    token = sign_raw(
        served,
        json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode(),
        raw_json(f'"{claim}":{literal}', claims),
    )
    code, out, err = _run(served, token, capsys=capsys)
    assert code == 1
    assert err == ""
    assert f"result: refused at time ({claim})" in out
    assert "(out of range)" in out
    code, out, err = _run(served, "--json", "--show-claims", token, capsys=capsys)
    assert (code, err) == (1, "")
    document = json.loads(out, parse_constant=pytest.fail)
    (time,) = [f for f in document["findings"] if f["step"] == "time"]
    assert time["times"][claim] == "out of range"


def test_a_dpop_proof_is_diagnosed_against_the_method_and_url(
    served: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    key = DpopKey()
    token = served.token(dpop_key=key)
    url = "https://api.example/todos"
    proof = key.proof("POST", url, access_token=token)
    code, out, _ = _run(
        served, "--proof", proof, "--method", "POST", "--url", url, token, capsys=capsys
    )
    assert code == 0, out
    assert " PASS dpop.htu " in out
    code, out, _ = _run(served, "--proof", proof, "--url", url, token, capsys=capsys)
    assert code == 1
    assert out.rstrip().endswith("result: refused at dpop.htm")
    assert "fix: make the proof for the request's method (--method here)" in out


def test_a_token_given_with_its_scheme_is_read(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {served.token()}\n"))
    code, out, _ = _run(served, capsys=capsys)
    assert code == 0, out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**({"client_id": "svc", "client_secret": None} | values))


class TestClientSecret:
    def test_a_secret_on_the_command_line_is_refused(self) -> None:
        with pytest.raises(UsageError, match="process list"):
            client_secret(_args(client_secret="s3cret"))

    def test_the_secret_comes_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CLIENT_SECRET_VARIABLE, "from-env")
        assert client_secret(_args()) == "from-env"

    def test_dash_reads_the_secret_from_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CLIENT_SECRET_VARIABLE, "from-env")
        monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\nrest"))
        assert client_secret(_args(client_secret="-")) == "from-stdin"

    def test_on_a_terminal_the_secret_is_prompted_for(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        prompts: list[str] = []
        monkeypatch.setattr("sys.stdin", _Terminal())

        def typed(prompt: str) -> str:
            prompts.append(prompt)
            return "typed"

        monkeypatch.setattr("getpass.getpass", typed)
        assert client_secret(_args()) == "typed"
        assert prompts == ["client secret of svc: "]

    def test_without_one_it_is_a_usage_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        with pytest.raises(UsageError, match=CLIENT_SECRET_VARIABLE):
            client_secret(_args())

    def test_an_empty_secret_is_a_usage_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CLIENT_SECRET_VARIABLE, "")
        with pytest.raises(UsageError, match="empty"):
            client_secret(_args())

    def test_the_command_refuses_a_secret_argument_with_exit_2(
        self, served: TestIssuer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = _run(served, "--client-id", "svc", "--client-secret", "s3", capsys=capsys)
        assert (code, out) == (2, "")
        assert CLIENT_SECRET_VARIABLE in err


def test_an_invalid_setting_is_named_by_its_variable(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OIDC_LEEWAY_SECONDS", "100000")
    code, out, err = _run(served, served.token(), capsys=capsys)
    assert (code, out) == (2, "")
    assert "OIDC_LEEWAY_SECONDS" in err
    assert "100000" not in err


def test_a_misspelt_variable_is_warned_about_and_the_secret_variable_is_not(
    served: TestIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OIDC_LEEWAY_SECOND", "10")
    monkeypatch.setenv(CLIENT_SECRET_VARIABLE, "s")
    code, _, err = _run(served, served.token(), capsys=capsys)
    assert code == 0
    assert "OIDC_LEEWAY_SECOND is not a setting" in err
    assert "OIDC_LEEWAY_SECONDS" in err
    assert CLIENT_SECRET_VARIABLE not in err
