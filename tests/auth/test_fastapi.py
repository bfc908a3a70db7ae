"""The FastAPI adapter (auth.fastapi): RFC 6750 / RFC 9449 responses over real ASGI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from auth import fastapi as auth_fastapi
from auth._errors import Check, InsufficientScope
from auth._principal import Principal
from auth._verifier import Authenticator, TokenVerifier
from auth.fastapi import OIDCAuth, install
from auth.testing import DpopKey, TestIssuer
from tests.auth.refusals import refused

Mint = Callable[..., str]
Prove = Callable[..., str]
BASE_URL = "https://api.example"
URL = f"{BASE_URL}/todos"
_AUTH_PARAM = re.compile(r'([a-z_]+)="([^"\\]*)"')


def build_app(authenticator: Authenticator, *, installed: bool = True) -> FastAPI:
    # Routes inside a function take their dependencies as default values: with
    # postponed annotations FastAPI cannot resolve an Annotated alias local to here.
    auth = OIDCAuth()
    app = FastAPI()
    auth.use(app, authenticator)
    if installed:
        install(app, auth)

    @app.get("/todos")
    async def todos(principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    @app.get("/todos/{name}")
    async def todo(name: str, principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        return {"name": name}

    @app.get("/admin")
    async def admin(
        principal: Principal = Depends(auth.require_roles("todo-admin")),  # noqa: B008
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    @app.get("/reports")
    async def reports(principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        # An application's own authorization decision, raised without a scheme.
        raise InsufficientScope("reports are for auditors", check=Check.REQUIRED_ROLE)

    @app.post("/todos")
    async def create(
        principal: Principal = Security(auth, scopes=["todo:write"]),  # noqa: B008
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    return app


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


def challenges(response: httpx.Response) -> dict[str, dict[str, str]]:
    """The WWW-Authenticate challenges by scheme; asserts each is well formed (RFC 9110
    §11.6.1 auth-params, each attribute once)."""
    parsed: dict[str, dict[str, str]] = {}
    for value in response.headers.get_list("www-authenticate"):
        scheme, _, rest = value.partition(" ")
        params: dict[str, str] = {}
        for part in rest.split(", "):
            match = _AUTH_PARAM.fullmatch(part)
            assert match, f"malformed auth-param {part!r} in {value!r}"
            assert match.group(1) not in params, f"repeated attribute in {value!r}"
            params[match.group(1)] = match.group(2)
        assert scheme not in parsed
        parsed[scheme] = params
    return parsed


def assert_problem(response: httpx.Response, status: int, error: str | None) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body.get("error") == error


async def test_a_valid_bearer_token_reaches_the_route(
    client: httpx.AsyncClient, mint: Mint
) -> None:
    response = await client.get("/todos", headers={"Authorization": f"Bearer {mint('bob')}"})
    assert response.status_code == 200
    assert response.json() == {"sub": "bob"}


async def test_a_valid_dpop_request_reaches_the_route(
    client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    response = await client.get(
        "/todos",
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": prove(dpop_key, "GET", URL, access_token=token),
        },
    )
    assert response.status_code == 200


async def test_no_credentials_is_401_with_both_challenges_and_no_error(
    client: httpx.AsyncClient, settings: Any
) -> None:
    response = await client.get("/todos")
    assert_problem(response, 401, None)
    # RFC 6750 §3.1 / RFC 9449 §7.2 Figure 17: no error code without credentials.
    assert challenges(response) == {
        "Bearer": {"realm": "todo-api"},
        "DPoP": {"realm": "todo-api", "algs": " ".join(settings.algorithms)},
    }


@pytest.mark.parametrize(
    ("headers", "query", "scheme"),
    [
        ([("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")], "", "Bearer"),
        ([("authorization", "DPoP a.b.c")], "", "DPoP"),
        ([], "access_token=a.b.c", "Bearer"),
        ([("authorization", "Bearer a.b.c")], "access_token=a.b.c", "Bearer"),
    ],
    ids=["two-authorization-headers", "dpop-without-proof", "token-in-query", "header-and-query"],
)
async def test_malformed_requests_are_400_invalid_request(
    client: httpx.AsyncClient, headers: list[tuple[str, str]], query: str, scheme: str
) -> None:
    response = await client.get(f"/todos?{query}", headers=headers)
    assert_problem(response, 400, "invalid_request")
    assert challenges(response)[scheme]["error"] == "invalid_request"


async def test_a_bad_token_is_401_invalid_token(client: httpx.AsyncClient, mint: Mint) -> None:
    token = mint(aud="another-api")
    response = await client.get("/todos", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "invalid_token")
    parsed = challenges(response)
    assert parsed["Bearer"]["error"] == "invalid_token"
    assert "error" not in parsed["DPoP"]
    assert parsed["Bearer"]["error_description"]


async def test_a_bad_proof_is_401_in_the_dpop_challenge(
    client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, "POST", URL, access_token=token)  # made for another method
    response = await client.get("/todos", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert_problem(response, 401, "invalid_dpop_proof")
    parsed = challenges(response)
    assert parsed["DPoP"]["error"] == "invalid_dpop_proof"
    assert "error" not in parsed["Bearer"]


async def test_a_missing_role_is_403_insufficient_scope(
    client: httpx.AsyncClient, mint: Mint
) -> None:
    response = await client.get("/admin", headers={"Authorization": f"Bearer {mint()}"})
    assert_problem(response, 403, "insufficient_scope")
    assert challenges(response)["Bearer"]["error"] == "insufficient_scope"
    admin = mint(realm_access={"roles": ["todo-admin"]})
    assert (await client.get("/admin", headers={"Authorization": f"Bearer {admin}"})).is_success


async def test_a_missing_scope_names_the_scope(client: httpx.AsyncClient, mint: Mint) -> None:
    response = await client.post("/todos", headers={"Authorization": f"Bearer {mint()}"})
    assert_problem(response, 403, "insufficient_scope")
    assert challenges(response)["Bearer"]["scope"] == "todo:write"


async def test_insufficient_scope_goes_to_the_dpop_challenge_for_a_dpop_client(
    client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    # RFC 9449 §7.2: the challenge of the scheme the client used carries the error.
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, "GET", f"{BASE_URL}/admin", access_token=token)
    response = await client.get("/admin", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert_problem(response, 403, "insufficient_scope")
    parsed = challenges(response)
    assert parsed["DPoP"]["error"] == "insufficient_scope"
    assert "error" not in parsed["Bearer"]


async def test_an_applications_own_refusal_goes_in_the_challenge_of_the_scheme_used(
    client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    # The adapter remembers the scheme that authenticated the request, so an error the
    # application raises afterwards (without naming a scheme) is rendered on it.
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, "GET", f"{BASE_URL}/reports", access_token=token)
    response = await client.get(
        "/reports", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert_problem(response, 403, "insufficient_scope")
    parsed = challenges(response)
    assert parsed["DPoP"]["error"] == "insufficient_scope"
    assert "error" not in parsed["Bearer"]
    response = await client.get("/reports", headers={"Authorization": f"Bearer {mint()}"})
    assert challenges(response)["Bearer"]["error"] == "insufficient_scope"


def test_the_role_helper_is_the_dependencys_check() -> None:
    # Applications whose role is only known at run time (a setting) call check_roles.
    principal = Principal(subject="s", issuer="i", roles=frozenset({"a", "b"}))
    assert auth_fastapi.check_roles(principal, ["a"]) is principal
    with refused(Check.REQUIRED_ROLE, InsufficientScope) as caught:
        auth_fastapi.check_roles(principal, ["a", "admin"])
    # Attributed to the scheme the principal authenticated with (RFC 9449 §7.2).
    assert caught.value.scheme == "Bearer"
    bound = Principal(subject="s", issuer="i", dpop_jkt="x" * 43)
    with refused(Check.REQUIRED_ROLE, InsufficientScope) as caught:
        auth_fastapi.check_roles(bound, ["admin"])
    assert caught.value.scheme == "DPoP"


async def test_keys_not_loaded_is_503_with_retry_after(
    client: httpx.AsyncClient, issuer: TestIssuer, mint: Mint
) -> None:
    issuer.available = False
    response = await client.get("/todos", headers={"Authorization": f"Bearer {mint()}"})
    assert_problem(response, 503, "temporarily_unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert "www-authenticate" not in response.headers


async def test_error_descriptions_never_contain_token_content(
    client: httpx.AsyncClient, mint: Mint, issuer: TestIssuer
) -> None:
    marker = "SECRET-MARKER"
    tokens = [
        mint(iss=f"https://{marker}.example"),
        mint(aud=marker),
        mint(sub=""),
        issuer.token(header={"kid": marker}),
        f"{marker}.{marker}.{marker}",
        "x" * 20_000,
    ]
    for token in tokens:
        response = await client.get("/todos", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (400, 401)
        assert marker not in str(response.headers)
        assert marker not in response.text
        challenges(response)


class TestNonces:
    @pytest.fixture
    async def client(
        self, make_verifier: Callable[..., TokenVerifier]
    ) -> AsyncIterator[httpx.AsyncClient]:
        verifier = make_verifier(dpop_nonce=True, dpop_nonce_secret="s")
        transport = httpx.ASGITransport(app=build_app(verifier))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield http

    async def test_use_dpop_nonce_is_401_with_a_nonce_then_the_retry_succeeds(
        self, client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        first = await client.get(
            "/todos",
            headers={"Authorization": f"DPoP {token}", "DPoP": prove(dpop_key, access_token=token)},
        )
        # RFC 9449 §9, Figure 24.
        assert_problem(first, 401, "use_dpop_nonce")
        assert challenges(first)["DPoP"]["error"] == "use_dpop_nonce"
        nonce = first.headers["dpop-nonce"]
        retry = await client.get(
            "/todos",
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": prove(dpop_key, access_token=token, nonce=nonce),
            },
        )
        assert retry.status_code == 200
        assert retry.headers["dpop-nonce"]  # RFC 9449 §8.2: the next nonce, on success


async def test_a_percent_encoded_path_matches_the_proof_as_the_client_sent_it(
    client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    # The server decodes the path ("caf%C3%A9" -> "café"); the client signed the URL it
    # sent, so the expected htu must be built from the raw path.
    token = mint(dpop_key=dpop_key)
    for path in ("/todos/caf%C3%A9", "/todos/a%20b", "/todos/%7Euser"):
        proof = prove(dpop_key, "GET", f"{BASE_URL}{path}", access_token=token)
        response = await client.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        assert response.status_code == 200, (path, response.text)


async def test_the_peer_address_reaches_the_trusted_proxy_check(
    make_verifier: Callable[..., TokenVerifier], mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    verifier = make_verifier(trusted_proxies="10.0.0.0/8")
    token = mint(dpop_key=dpop_key)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example"}
    for peer, expected in ((("10.0.0.2", 4000), 200), (("203.0.113.9", 4000), 401)):
        transport = httpx.ASGITransport(app=build_app(verifier), client=peer)
        async with httpx.AsyncClient(transport=transport, base_url="http://app:8000") as http:
            proof = prove(dpop_key, "GET", URL, access_token=token)
            response = await http.get(
                "/todos", headers={"Authorization": f"DPoP {token}", "DPoP": proof, **forwarded}
            )
        assert response.status_code == expected


async def test_openapi_declares_both_security_schemes(verifier: TokenVerifier) -> None:
    schema = build_app(verifier).openapi()
    schemes = schema["components"]["securitySchemes"]
    # Bearer keeps Swagger UI's "paste a token"; DPoP is described as its proof header,
    # a type Swagger UI can show (an "http" scheme named DPoP is "unsupported" there).
    assert (schemes["Bearer"]["type"], schemes["Bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["DPoP"]["type"], schemes["DPoP"]["in"]) == ("apiKey", "header")
    assert schemes["DPoP"]["name"] == "DPoP"
    assert "Authorization: DPoP" in schemes["DPoP"]["description"]


class TestForgedHost:
    """RFC 9112 §3.2 / RFC 3986 §3.2: Host is ``host[:port]`` and nothing else. A Host
    carrying a path, a query or a fragment must not move the URL a DPoP proof is checked
    against (RFC 9449 §4.3 step 9), with or without a configured public URL, and the
    adapter refuses it (400) even in an application that installs no Host guard."""

    @pytest.fixture(params=[None, BASE_URL], ids=["host-header", "public-url"])
    async def client(
        self, request: pytest.FixtureRequest, make_verifier: Callable[..., TokenVerifier]
    ) -> AsyncIterator[httpx.AsyncClient]:
        verifier = make_verifier(public_url=request.param)
        transport = httpx.ASGITransport(app=build_app(verifier))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield http

    @pytest.mark.parametrize(
        ("host", "proof_url"),
        [
            ("api.example/todos/a?", f"{BASE_URL}/todos/a"),
            ("api.example/todos/a#", f"{BASE_URL}/todos/a"),
            ("api.example?", f"{BASE_URL}/"),
            ("api.example/todos/a", f"{BASE_URL}/todos/a/todos/b"),
        ],
        ids=["path-and-query", "path-and-fragment", "query", "path"],
    )
    async def test_a_proof_for_one_url_is_not_accepted_on_another_through_the_host(
        self,
        *,
        client: httpx.AsyncClient,
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        host: str,
        proof_url: str,
    ) -> None:
        token = mint(dpop_key=dpop_key)
        proof = prove(dpop_key, "GET", proof_url, access_token=token)
        response = await client.get(
            "/todos/b", headers={"Host": host, "Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert_problem(response, 400, "invalid_request")
        assert challenges(response)["DPoP"]["error"] == "invalid_request"

    @pytest.mark.parametrize(
        "host",
        [
            "user@api.example",
            "api.example/",
            "api.example:443/x",
            "api.example?x",
            "api.example#x",
            "api .example",
            "",
            "api.example:https",
            "api.example:65536",
            "api.example\\todos",
            "[::1",
            "api.example:443:443",
        ],
        ids=[
            "userinfo",
            "slash",
            "port-and-path",
            "query",
            "fragment",
            "space",
            "empty",
            "port-not-a-number",
            "port-out-of-range",
            "backslash",
            "unclosed-ipv6",
            "two-ports",
        ],
    )
    async def test_an_invalid_host_is_400_even_with_an_honest_proof(
        self, client: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey, host: str
    ) -> None:
        token = mint(dpop_key=dpop_key)
        proof = prove(dpop_key, "GET", f"{BASE_URL}/todos/b", access_token=token)
        response = await client.get(
            "/todos/b", headers={"Host": host, "Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert_problem(response, 400, "invalid_request")

    @pytest.mark.parametrize(
        "forwarded",
        [
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example/todos/a?"},
            {"Forwarded": 'proto=https;host="api.example/todos/a?"'},
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example, api.example/todos/a?"},
        ],
        ids=["x-forwarded-host", "forwarded", "x-forwarded-host-last-element"],
    )
    async def test_a_trusted_proxys_forwarded_host_is_held_to_the_same_rule(
        self,
        make_verifier: Callable[..., TokenVerifier],
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        forwarded: dict[str, str],
    ) -> None:
        verifier = make_verifier(trusted_proxies="10.0.0.0/8")
        transport = httpx.ASGITransport(app=build_app(verifier), client=("10.0.0.2", 4000))
        token = mint(dpop_key=dpop_key)
        proof = prove(dpop_key, "GET", f"{BASE_URL}/todos/a", access_token=token)
        async with httpx.AsyncClient(transport=transport, base_url="http://app:8000") as http:
            response = await http.get(
                "/todos/b", headers={"Authorization": f"DPoP {token}", "DPoP": proof, **forwarded}
            )
        assert_problem(response, 400, "invalid_request")
