"""Where the end-to-end suite points: settings read from ``E2E_*`` environment variables.

With ``E2E_API_URL`` and ``E2E_ISSUER`` unset, the suite starts its own Keycloak
(keycloak/local-keycloak.sh, the realms of keycloak/*.json) and its own API. With both
set, it runs against that deployment instead and starts nothing: a compose stack, a
staging environment, your own realm. docs/testing.md lists what the realm must contain;
the defaults below are the users and clients of keycloak/todo-realm.json.
"""

from __future__ import annotations

from typing import Self

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class E2ETargets(BaseSettings):
    """The deployment under test and the credentials the suite uses on it."""

    model_config = SettingsConfigDict(env_prefix="E2E_", extra="ignore")

    #: The API's base URL as its clients reach it (DPoP proofs name it), e.g.
    #: ``http://localhost:8000``.
    api_url: str | None = None
    #: The issuer the API trusts (its ``OIDC_ISSUER_URI``); its discovery document gives
    #: the token endpoint.
    issuer: str | None = None
    audience: str = "todo-api"

    #: A user with the role ``todo-user``, in the groups ``user_groups``.
    user: str = "alice"
    user_password: SecretStr = SecretStr("alice-password")
    user_groups: list[str] = ["customers"]
    #: A second user with the role ``todo-user`` (the DPoP-bound tokens are theirs).
    other_user: str = "bob"
    other_user_password: SecretStr = SecretStr("bob-password")
    #: A user with the role ``todo-admin`` (the API's TODO_ADMIN_ROLE).
    admin_user: str = "carol"
    admin_user_password: SecretStr = SecretStr("carol-password")

    #: A confidential client with the password and client-credentials grants, Bearer tokens.
    client_id: str = "todo-test"
    client_secret: SecretStr = SecretStr("todo-test-secret")
    #: A confidential client with the same grants whose tokens are DPoP-bound.
    dpop_client_id: str = "todo-test-dpop"
    dpop_client_secret: SecretStr = SecretStr("todo-test-dpop-secret")

    #: Another issuer whose tokens the API must refuse; by default the realm ``other``
    #: beside the issuer's Keycloak realm (keycloak/other-realm.json).
    foreign_issuer: str | None = None
    foreign_client_id: str = "todo-test"
    foreign_client_secret: SecretStr = SecretStr("other-test-secret")

    #: Keycloak's administrator (master realm), for the tests that create clients through
    #: the admin API (marker ``keycloak_admin``). Unset: those tests fail saying so.
    keycloak_admin: str | None = None
    keycloak_admin_password: SecretStr | None = None

    #: The API's clock leeway (its OIDC_LEEWAY_SECONDS): how long past ``exp`` the
    #: expiry test waits before it expects a refusal.
    api_leeway_seconds: int = 30

    @model_validator(mode="after")
    def _api_and_issuer_together(self) -> Self:
        if (self.api_url is None) != (self.issuer is None):
            raise ValueError(
                "set both E2E_API_URL and E2E_ISSUER to test a deployment, or neither to "
                "let the suite start its own Keycloak and API"
            )
        return self

    @property
    def deployed(self) -> bool:
        """True when the suite runs against a deployment it did not start."""
        return self.api_url is not None
