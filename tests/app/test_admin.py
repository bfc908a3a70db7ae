"""The admin view requires the configured role, read from ``realm_access.roles``."""

from __future__ import annotations

from tests.app.conftest import API, Api


# feature: todo begin
async def test_admin_sees_user_and_todo_counts(api: Api) -> None:
    alice = api.caller()
    await alice.create()
    done = await alice.create()
    await alice.patch(f"/api/todos/{done['id']}", json={"done": True})
    admin = api.caller(roles=["todo-user", "todo-admin"])
    response = await admin.get("/api/admin/stats")
    assert response.status_code == 200
    # The admin only read stats, which needs no user row: one user so far.
    assert response.json() == {"users": 1, "todos": 2, "todos_done": 1}


# feature: todo end


async def test_user_without_the_role_gets_403_insufficient_scope(api: Api) -> None:
    response = await api.caller().get("/api/admin/stats")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    challenge = response.headers.get_list("www-authenticate")[0]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge


async def test_client_role_of_the_api_also_counts(api: Api) -> None:
    caller = api.caller(roles=[])
    token = caller.issuer.token(
        caller.subject, resource_access={"todo-api": {"roles": ["todo-admin"]}}
    )
    response = await api.client.get(
        "/api/admin/stats", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


async def test_role_of_another_client_does_not_count(api: Api) -> None:
    caller = api.caller(roles=[])
    token = caller.issuer.token(
        caller.subject, resource_access={"other-app": {"roles": ["todo-admin"]}}
    )
    response = await api.client.get(
        "/api/admin/stats", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


async def test_admin_without_token_is_401_not_403(api: Api) -> None:
    response = await api.client.get("/api/admin/stats")
    assert response.status_code == 401


async def test_a_dpop_caller_without_the_role_gets_the_error_in_the_dpop_challenge(
    api: Api,
) -> None:
    # RFC 9449 §7.2 / RFC 6750 §3: the error goes in the challenge of the scheme the
    # client used; the Bearer challenge stays bare.
    key = api.dpop_key()
    token = api.issuer.token("dpop-user", dpop_key=key, realm_access={"roles": ["todo-user"]})
    proof = key.proof("GET", f"{API}/api/admin/stats", access_token=token)
    response = await api.client.get(
        "/api/admin/stats", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    # The challenge carrying the error comes first (auth.errors.challenges).
    dpop, bearer = response.headers.get_list("www-authenticate")
    metadata = "http://api.test/.well-known/oauth-protected-resource"  # RFC 9728 §5.1
    assert bearer == f'Bearer realm="todo-api", resource_metadata="{metadata}"'
    assert dpop.startswith("DPoP ")
    assert 'error="insufficient_scope"' in dpop
