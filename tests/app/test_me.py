"""``/api/me`` and the authentication rules as the API applies them."""

from __future__ import annotations

from tests.app.conftest import API, Api


async def test_me_reports_the_principal(api: Api) -> None:
    caller = api.caller("alice", roles=["todo-user", "todo-admin"])
    response = await caller.get("/api/me")
    assert response.status_code == 200
    me = response.json()
    assert me["subject"] == "alice"
    assert me["issuer"] == api.issuer.issuer
    assert me["roles"] == ["todo-admin", "todo-user"]
    assert me["groups"] == ["customers"]
    assert me["client_id"] == "todo-spa"
    assert me["email"] == "alice@example.test"
    assert me["dpop_bound"] is False


async def test_me_with_a_dpop_bound_token_and_proof(api: Api) -> None:
    key = api.dpop_key()
    token = api.issuer.token("carol", alg="ES256", dpop_key=key)
    proof = key.proof("GET", f"{API}/api/me", access_token=token)
    response = await api.client.get(
        "/api/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 200
    assert response.json()["dpop_bound"] is True


async def test_replayed_proof_is_refused_by_the_api(api: Api) -> None:
    key = api.dpop_key()
    token = api.issuer.token("carol", dpop_key=key)
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", f"{API}/api/me", access_token=token),
    }
    assert (await api.client.get("/api/me", headers=headers)).status_code == 200
    replay = await api.client.get("/api/me", headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_dpop_proof"
    challenges = replay.headers.get_list("www-authenticate")
    assert any(c.startswith("DPoP ") and 'error="invalid_dpop_proof"' in c for c in challenges)


async def test_dpop_bound_token_sent_as_bearer_is_refused(api: Api) -> None:
    key = api.dpop_key()
    token = api.issuer.token("carol", dpop_key=key)
    response = await api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_no_token_is_401_with_both_challenges_and_no_error_code(api: Api) -> None:
    response = await api.client.get("/api/todos")
    assert response.status_code == 401
    challenges = response.headers.get_list("www-authenticate")
    metadata = 'resource_metadata="http://api.test/.well-known/oauth-protected-resource"'
    assert challenges[0] == f'Bearer realm="todo-api", {metadata}'
    assert challenges[1].startswith(f'DPoP realm="todo-api", {metadata}, algs="')
    assert "error" not in response.json()


async def test_expired_token_is_401_invalid_token(api: Api) -> None:
    token = api.issuer.token("alice", exp=1_000_000_000, iat=999_999_000)
    response = await api.client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_token_in_query_is_400_and_never_accepted(api: Api) -> None:
    token = api.issuer.token("alice")
    response = await api.client.get("/api/todos", params={"access_token": token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_two_authorization_headers_are_400(api: Api) -> None:
    token = api.issuer.token("alice")
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await api.client.get("/api/todos", headers=headers)
    assert response.status_code == 400


async def test_garbage_tokens_are_401_never_500(api: Api) -> None:
    for token in [
        b"x",
        b"a.b.c",
        b"eyJ.eyJ.sig",
        b"." * 40,
        b"A" * 20_000,
        "ä".encode(),
        b"\xff\xfe",
    ]:
        response = await api.client.get(
            "/api/todos", headers={b"Authorization": b"Bearer " + token}
        )
        assert response.status_code in (400, 401), (token[:20], response.status_code)
