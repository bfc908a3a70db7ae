"""Multi-tenant issuers: one configured template, one issuer per tenant.

Entra ID names each tenant's issuer after its id
(``https://login.microsoftonline.com/{tenantid}/v2.0``), and a multi-tenant application
accepts tokens from several tenants. A token's ``iss`` and ``tid``, read before anything
is verified, only *select* a tenant: it must be one the configuration lists (or any, when
the list is ``*``; its id must then be a GUID, as Entra's are), and ``tid`` must name the
same tenant as ``iss``. The tenant's discovery URL is then built from the configured
template, never taken from the token, and its keys come from that document only; the
token is verified with them, ``iss`` compared exactly as for any issuer.

Each tenant's key set is kept in a least-recently-used map of at most
``OIDC_MAX_TENANTS`` entries. A tenant whose first load fails is dropped and remembered
for the refetch cooldown, and at most ``NEW_TENANTS_PER_COOLDOWN`` unseen tenants are
looked up per cooldown: tokens naming random tenants can neither become a flood of
fetches nor push the known tenants out.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from ._errors import Check, InvalidToken, ServiceUnavailable
from ._jwks import JwksCache
from ._profiles import TENANT_PLACEHOLDER, TrustedIssuer

#: The allow-list entry that accepts every tenant.
ANY_TENANT = "*"
#: Unseen tenants looked up per refetch cooldown, at most.
NEW_TENANTS_PER_COOLDOWN = 10
#: A listed tenant id: a GUID or a domain-like name, as one path segment.
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")
#: Any tenant's id (``*``): a GUID in the lower case Entra writes it in.
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REMEMBERED_FAILURES = 1024


def _holds_placeholder_as_a_segment(url: str) -> bool:
    parts = urlsplit(url)
    return TENANT_PLACEHOLDER not in parts.netloc and parts.path.split("/").count(
        TENANT_PLACEHOLDER
    ) == url.count(TENANT_PLACEHOLDER)


def check_template(issuer: str, discovery_uri: str | None, tenants: tuple[str, ...] | None) -> None:
    """Refuse a template that could let a token choose where keys come from, or tenants
    without a template.

    Raises:
        ValueError: the sentence says what to change.
    """
    if TENANT_PLACEHOLDER not in issuer:
        if tenants is not None:
            raise ValueError(f"tenants are only for an issuer holding {TENANT_PLACEHOLDER}")
        if discovery_uri is not None and TENANT_PLACEHOLDER in discovery_uri:
            raise ValueError(f"the discovery URI holds {TENANT_PLACEHOLDER}, the issuer does not")
        return
    for url in (issuer, discovery_uri or issuer):
        if url.count(TENANT_PLACEHOLDER) != 1 or not _holds_placeholder_as_a_segment(url):
            raise ValueError(
                f"{url} must hold {TENANT_PLACEHOLDER} once, as a whole path segment "
                "(https://login.microsoftonline.com/{tenantid}/v2.0)"
            )
    if not tenants:
        raise ValueError(
            f"an issuer holding {TENANT_PLACEHOLDER} needs the tenants it accepts: their ids, "
            f"or {ANY_TENANT} for any tenant"
        )
    if ANY_TENANT in tenants and len(tenants) > 1:
        raise ValueError(f"{ANY_TENANT} accepts any tenant: list it alone")
    invalid = [t for t in tenants if t != ANY_TENANT and not _TENANT_ID.fullmatch(t)]
    if invalid:
        raise ValueError(f"not tenant ids: {' '.join(invalid)}")


class HasKeys(Protocol):
    """What the verifier keeps per issuer; here, only its key set matters."""

    @property
    def keys(self) -> JwksCache: ...


E = TypeVar("E", bound=HasKeys)


class TenantIssuers(Generic[E]):
    """The tenants of one template: which are allowed, and their key sets, loaded on
    first use. ``build`` makes the verifier's entry for one tenant's issuer."""

    def __init__(
        self,
        template: TrustedIssuer,
        *,
        build: Callable[[TrustedIssuer], E],
        max_tenants: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.template = template
        self._build = build
        self._max = max_tenants
        self._cooldown = cooldown
        self._clock = clock
        self._any = template.tenants == (ANY_TENANT,)
        self._listed = frozenset(template.tenants)
        prefix, _, suffix = template.issuer.partition(TENANT_PLACEHOLDER)
        self._prefix, self._suffix = prefix, suffix
        self._entries: OrderedDict[str, E] = OrderedDict()
        self._loading: dict[str, asyncio.Task[E]] = {}
        #: tenant -> (refused until, whether its provider answered "no such tenant").
        self._failed: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._lookups: deque[float] = deque()

    def tenant_of(self, issuer: str) -> str | None:
        """The tenant an ``iss`` names, when it has this template's shape."""
        if not (issuer.startswith(self._prefix) and issuer.endswith(self._suffix)):
            return None
        tenant = issuer[len(self._prefix) : len(issuer) - len(self._suffix)]
        return tenant if _TENANT_ID.fullmatch(tenant) else None

    def admits(self, tenant: str) -> bool:
        return _GUID.fullmatch(tenant) is not None if self._any else tenant in self._listed

    def loaded(self, issuer: str) -> E | None:
        """The entry of a tenant already loaded, without any lookup."""
        tenant = self.tenant_of(issuer)
        return self._entries.get(tenant) if tenant is not None else None

    def entries(self) -> tuple[E, ...]:
        return tuple(self._entries.values())

    async def resolve(self, tenant: str, claims: Mapping[str, Any]) -> E:
        """The entry of ``tenant``, named by a token's unverified ``iss`` and ``claims``;
        loaded (discovery, keys) from the template on first use.

        Raises:
            InvalidToken: a tenant this API does not accept (``iss``), a ``tid`` that is
                not that tenant (``tid``), or one its provider does not know.
            ServiceUnavailable: its provider is unreachable or misconfigured, or too many
                new tenants were looked up in the last cooldown.
        """
        if not self.admits(tenant):
            # Decided from configuration alone: nothing is fetched for this tenant.
            raise InvalidToken("the token's tenant is not one this API accepts", check=Check.ISS)
        if claims.get("tid") != tenant:
            raise InvalidToken("the token's tid is not the tenant of its iss", check=Check.TID)
        entry = self._entries.get(tenant)
        if entry is not None:
            self._entries.move_to_end(tenant)
            return entry
        task = self._loading.get(tenant)
        if task is None:
            self._admit_lookup(tenant)
            task = asyncio.create_task(self._load(tenant), name=f"tenant-{tenant}")
            self._loading[tenant] = task
            task.add_done_callback(self._loaded)
        return await asyncio.shield(task)

    def _loaded(self, task: asyncio.Task[E]) -> None:
        self._loading = {t: other for t, other in self._loading.items() if other is not task}
        if not task.cancelled():
            task.exception()  # retrieved here too: its awaiter may have gone away

    def _admit_lookup(self, tenant: str) -> None:
        now = self._clock()
        failed = self._failed.get(tenant)
        if failed is not None and failed[0] > now:
            raise self._failure(unknown_tenant=failed[1])
        while self._lookups and self._lookups[0] <= now - self._cooldown:
            self._lookups.popleft()
        if len(self._lookups) >= NEW_TENANTS_PER_COOLDOWN:
            raise ServiceUnavailable(
                "too many new tenants at once; retry shortly", check=Check.ISSUER_UNREACHABLE
            )
        self._lookups.append(now)

    async def _load(self, tenant: str) -> E:
        entry = self._build(self.template.for_tenant(tenant))
        await entry.keys.start()
        if entry.keys.keys is None:
            await entry.keys.aclose()
            problem = entry.keys.problem
            unknown = problem is not None and problem.misconfigured
            self._failed[tenant] = (self._clock() + self._cooldown, unknown)
            self._failed.move_to_end(tenant)
            while len(self._failed) > _REMEMBERED_FAILURES:
                self._failed.popitem(last=False)
            raise self._failure(unknown_tenant=unknown)
        self._entries[tenant] = entry
        while len(self._entries) > self._max:
            _, evicted = self._entries.popitem(last=False)
            await evicted.keys.aclose()
        return entry

    def _failure(self, *, unknown_tenant: bool) -> InvalidToken | ServiceUnavailable:
        if unknown_tenant and self._any:
            # The provider answered for this tenant, and not with keys: a token naming
            # a tenant that does not exist.
            return InvalidToken("the token's tenant is unknown to its issuer", check=Check.ISS)
        if unknown_tenant:
            return ServiceUnavailable(
                "this API's identity provider settings are wrong; its log says which",
                check=Check.ISSUER_MISCONFIGURED,
            )
        return ServiceUnavailable(
            "the tenant's issuer is unreachable", check=Check.ISSUER_UNREACHABLE
        )

    async def aclose(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for entry in self._entries.values():
            await entry.keys.aclose()
        self._entries.clear()

    def status(self) -> dict[str, Any]:
        return {
            "state": "ready",
            "tenants": "any" if self._any else sorted(self._listed),
            "tenants_loaded": len(self._entries),
            "max_tenants": self._max,
            "loaded": {tenant: entry.keys.status() for tenant, entry in self._entries.items()},
        }
