"""The names a generated service is known by, derived from the answers once."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Lowercase words joined by single dashes: a Python distribution name, an OpenTelemetry
#: service name, a Keycloak realm and the prefix of its client ids, all at once.
SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
#: The realms of the test suite (keycloak/todo-realm.json, other-realm.json): a
#: development realm of the same name would replace one of them in the bundled Keycloak.
TEST_REALMS = frozenset({"todo", "other"})


class AnswerError(ValueError):
    """An answer the generator cannot use (copier's validators should have caught it)."""


def check_slug(value: str, what: str) -> str:
    """``value`` if it is a slug.

    Raises:
        AnswerError: it is not.
    """
    if not SLUG.fullmatch(value) or len(value) > 40:
        raise AnswerError(
            f"{what} must be lowercase letters, digits and single dashes, starting with"
            f" a letter, at most 40 characters: {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class ProjectNames:
    """``title`` as the user wrote it ("Acme Orders"); ``slug`` for machines."""

    title: str
    slug: str

    def __post_init__(self) -> None:
        if not self.title.strip() or "\n" in self.title or '"' in self.title:
            raise AnswerError(f"the project's name must be one line without quotes: {self.title!r}")
        check_slug(self.slug, "the project's short name")


@dataclass(frozen=True, slots=True)
class RealmNames:
    """The development realm of the bundled Keycloak and its clients, named after it."""

    realm: str

    def __post_init__(self) -> None:
        check_slug(self.realm, "the realm's name")
        if self.realm in TEST_REALMS:
            raise AnswerError(f"{self.realm!r} is a realm of the test suite: choose another name")

    @property
    def audience(self) -> str:
        """The API's client: the audience its tokens carry."""
        return f"{self.realm}-api"

    @property
    def swagger_client(self) -> str:
        return f"{self.realm}-swagger"

    @property
    def admin_role(self) -> str:
        return f"{self.realm}-admin"
