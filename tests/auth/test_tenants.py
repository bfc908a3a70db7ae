"""Multi-tenant issuers (auth._tenants): an issuer template with {tenantid}, checked
against the token's tid and an allow-list of tenants (or any GUID tenant with "*"); a
tenant's discovery and keys come only from the configured template, nothing is fetched
for a tenant outside the list, and the tenants' key sets kept at once are capped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from auth import create_authenticator
from auth._diagnosis import Diagnosis
from auth._errors import Check, InvalidToken, ServiceUnavailable
from auth._tenants import NEW_TENANTS_PER_COOLDOWN
from auth._verifier import Authenticator
from auth.testing import TestIssuer
from tests.auth.fakes import IdpTransport, IsolatedSettings, clone_issuer, http_request
from tests.auth.refusals import refused

TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
AUDIENCE = "api://todo"
A, B, C = (str(uuid.UUID(int=n)) for n in (0xA, 0xB, 0xC))


def tenant_issuer(template: TestIssuer, tenant: str) -> TestIssuer:
    issuer = clone_issuer(template)
    issuer.issuer, issuer.audience = TEMPLATE.replace("{tenantid}", tenant), AUDIENCE
    return issuer


@pytest.fixture
def tenants(issuer_template: TestIssuer) -> dict[str, TestIssuer]:
    """Three Entra tenants, each its own issuer (sharing keys, as Entra's tenants do)."""
    return {tenant: tenant_issuer(issuer_template, tenant) for tenant in (A, B, C)}


@pytest.fixture
def transport(tenants: dict[str, TestIssuer]) -> IdpTransport:
    return IdpTransport(*tenants.values())


def entra_token(issuer: TestIssuer, tenant: str, **claims: Any) -> str:
    """An Entra ID v2 access token: typ JWT, azp, scp, roles, tid; no jti."""
    shape = {"tid": tenant, "scp": "todo.read", "roles": ["Todo.Admin"], "jti": None}
    return issuer.token(header={"typ": "JWT"}, client_id=None, **(shape | claims))


@pytest.fixture
async def make(transport: IdpTransport) -> AsyncIterator[Callable[..., Any]]:
    made: list[Authenticator] = []
    client = httpx.AsyncClient(transport=transport)

    async def build(tenants: str, **settings: Any) -> Authenticator:
        values = {"issuer_uri": TEMPLATE, "audience": AUDIENCE, "provider": "entra"}
        authenticator = create_authenticator(
            IsolatedSettings(**(values | {"tenants": tenants} | settings)),
            production=True,
            http_client=client,
        )
        await authenticator.start()
        made.append(authenticator)
        return authenticator

    yield build
    for authenticator in made:
        await authenticator.aclose()
    await client.aclose()


def _bearer(token: str) -> Any:
    return http_request(authorization=[f"Bearer {token}"])


async def test_a_listed_tenants_token_is_verified_with_keys_from_the_template(
    make: Any, tenants: dict[str, TestIssuer], transport: IdpTransport
) -> None:
    authenticator = await make(f"{A} {B}")
    assert transport.urls == []  # nothing is fetched before a tenant is seen
    assert authenticator.is_ready()
    principal = await authenticator.authenticate(_bearer(entra_token(tenants[A], A)))
    assert principal.issuer == f"https://login.microsoftonline.com/{A}/v2.0"
    assert principal.roles == {"Todo.Admin"}
    assert principal.scopes == {"todo.read"}
    assert transport.urls == [tenants[A].discovery_uri, tenants[A].jwks_uri]
    assert transport.unexpected == []
    # The token cache and the tenant's loaded keys: no second fetch.
    await authenticator.authenticate(_bearer(entra_token(tenants[A], A)))
    assert len(transport.urls) == 2


async def test_a_tenant_outside_the_list_is_refused_without_any_fetch(
    make: Any, tenants: dict[str, TestIssuer], transport: IdpTransport
) -> None:
    authenticator = await make(f"{A} {B}")
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(tenants[C], C)))
    assert transport.urls == []


@pytest.mark.parametrize(
    "tid", [B, None, A.upper()], ids=["another-tenant", "missing", "other-case"]
)
async def test_tid_must_name_the_tenant_of_iss(
    make: Any, tenants: dict[str, TestIssuer], transport: IdpTransport, tid: str | None
) -> None:
    authenticator = await make(f"{A} {B}")
    with refused(Check.TID, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(tenants[A], A, tid=tid)))
    assert transport.urls == []


async def test_any_tenant_when_the_list_says_so(
    make: Any, tenants: dict[str, TestIssuer], transport: IdpTransport
) -> None:
    authenticator = await make("*")
    principal = await authenticator.authenticate(_bearer(entra_token(tenants[C], C)))
    assert principal.issuer == tenants[C].issuer
    assert transport.urls == [tenants[C].discovery_uri, tenants[C].jwks_uri]
    status = authenticator.status()
    assert status["issuers"][TEMPLATE]["tenants"] == "any"
    assert status["issuers"][TEMPLATE]["tenants_loaded"] == 1


@pytest.mark.parametrize(
    "tenant",
    ["evil.example", "contoso", "x/../../evil.example", "..", A + "/x"],
    ids=["domain", "name", "traversal", "dots", "extra-segment"],
)
async def test_any_tenant_is_a_guid_and_a_token_cannot_steer_the_url(
    make: Any, issuer_template: TestIssuer, transport: IdpTransport, tenant: str
) -> None:
    authenticator = await make("*")
    forged = tenant_issuer(issuer_template, tenant)
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(forged, tenant)))
    assert transport.urls == []


async def test_an_issuer_of_another_shape_is_refused_without_any_fetch(
    make: Any, issuer_template: TestIssuer, transport: IdpTransport
) -> None:
    authenticator = await make("*")
    stranger = clone_issuer(issuer_template)
    stranger.issuer = f"https://evil.example/{A}/v2.0"
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(stranger, A)))
    assert transport.urls == []


async def test_the_tenants_kept_at_once_are_capped(
    make: Any, tenants: dict[str, TestIssuer], transport: IdpTransport
) -> None:
    authenticator = await make("*", max_tenants=2)
    for tenant in (A, B, C):
        await authenticator.authenticate(_bearer(entra_token(tenants[tenant], tenant)))
    status = authenticator.status()["issuers"][TEMPLATE]
    assert status["tenants_loaded"] == 2
    assert sorted(status["loaded"]) == sorted([B, C])  # the least recently used went
    assert len(authenticator.stats().key_sets) == 2
    # Its tokens still work: its keys are loaded again, from the template.
    await authenticator.authenticate(_bearer(entra_token(tenants[A], A, sub="again")))
    assert transport.urls.count(tenants[A].discovery_uri) == 2
    assert transport.unexpected == []


async def test_a_tenant_its_provider_does_not_know_is_remembered(
    make: Any, issuer_template: TestIssuer, transport: IdpTransport
) -> None:
    authenticator = await make("*")
    unknown = str(uuid.UUID(int=0xD))
    forged = tenant_issuer(issuer_template, unknown)  # not served: its discovery is 404
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(forged, unknown)))
    fetched = len(transport.urls)
    assert fetched == 1
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(entra_token(forged, unknown, sub="bob")))
    assert len(transport.urls) == fetched  # not looked up again within the cooldown
    assert authenticator.status()["issuers"][TEMPLATE]["tenants_loaded"] == 0


async def test_new_tenants_looked_up_per_cooldown_are_limited(
    make: Any, issuer_template: TestIssuer, transport: IdpTransport
) -> None:
    authenticator = await make("*")
    for n in range(NEW_TENANTS_PER_COOLDOWN):
        tenant = str(uuid.UUID(int=0x100 + n))
        with refused(Check.ISS, InvalidToken):
            await authenticator.authenticate(
                _bearer(entra_token(tenant_issuer(issuer_template, tenant), tenant))
            )
    fetched = len(transport.urls)
    one_more = str(uuid.UUID(int=0x200))
    with refused(Check.ISSUER_UNREACHABLE, ServiceUnavailable):
        await authenticator.authenticate(
            _bearer(entra_token(tenant_issuer(issuer_template, one_more), one_more))
        )
    assert len(transport.urls) == fetched


async def test_a_listed_tenant_and_a_plain_issuer_side_by_side(
    transport: IdpTransport, tenants: dict[str, TestIssuer], issuer_template: TestIssuer
) -> None:
    keycloak = clone_issuer(issuer_template)
    transport.issuers = (*transport.issuers, keycloak)
    entries = (
        f'[{{"issuer": "{TEMPLATE}", "audience": "{AUDIENCE}", "provider": "entra",'
        f' "tenants": ["{A}"]}},'
        f' {{"issuer": "{keycloak.issuer}", "audience": "{keycloak.audience}"}}]'
    )
    async with httpx.AsyncClient(transport=transport) as client:
        authenticator = create_authenticator(
            IsolatedSettings(issuers=entries), production=True, http_client=client
        )
        await authenticator.start()
        try:
            assert authenticator.is_ready()  # the plain issuer's keys; tenants on first use
            assert (await authenticator.authenticate(_bearer(keycloak.token()))).subject
            principal = await authenticator.authenticate(_bearer(entra_token(tenants[A], A)))
            assert principal.issuer == tenants[A].issuer
            with refused(Check.ISS, InvalidToken):
                await authenticator.authenticate(_bearer(entra_token(tenants[B], B)))
            assert transport.unexpected == []
        finally:
            await authenticator.aclose()


@pytest.mark.parametrize(
    "case",
    [
        (A, {}, None),
        (A, {"tid": B}, Check.TID),
        (C, {}, Check.ISS),
        (A, {"at_hash": "x"}, Check.TYP),
    ],
    ids=["listed", "tid-of-another-tenant", "unlisted", "typ"],
)
async def test_the_doctor_walks_a_tenants_token_as_the_verifier_does(
    make: Any,
    tenants: dict[str, TestIssuer],
    transport: IdpTransport,
    case: tuple[str, dict[str, Any], Check | None],
) -> None:
    tenant, claims, expected = case
    token = entra_token(tenants[tenant], tenant, **claims)
    authenticator = await make(f"{A} {B}")
    try:
        await authenticator.authenticate(_bearer(token))
        refused_with = None
    except InvalidToken as error:
        refused_with = error.check
    assert refused_with is expected
    settings = IsolatedSettings(
        issuer_uri=TEMPLATE, audience=AUDIENCE, provider="entra", tenants=f"{A} {B}"
    )
    async with httpx.AsyncClient(transport=transport) as client:
        report = await Diagnosis(settings).run(token, client)
    decided_by = report.decided_by
    assert (decided_by.check if decided_by else None) == (expected and expected.value)
    assert transport.unexpected == []
