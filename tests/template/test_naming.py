"""The names a service is known by, and the answers the generator refuses."""

from __future__ import annotations

import pytest

from generator.naming import AnswerError, ProjectNames, RealmNames


@pytest.mark.parametrize("slug", ["acme", "acme-orders", "a1-b2", "x" * 40])
def test_slugs_that_name_a_distribution_a_realm_and_a_client(slug: str) -> None:
    assert ProjectNames("Acme", slug).slug == slug


@pytest.mark.parametrize(
    "slug", ["", "Acme", "acme_orders", "-acme", "acme-", "a--b", "1acme", "x" * 41]
)
def test_other_short_names_are_refused(slug: str) -> None:
    with pytest.raises(AnswerError, match="lowercase letters"):
        ProjectNames("Acme", slug)


@pytest.mark.parametrize("title", ["", "  ", 'The "Best"', "two\nlines"])
def test_a_title_is_one_line_without_quotes(title: str) -> None:
    with pytest.raises(AnswerError, match="one line without quotes"):
        ProjectNames(title, "acme")


def test_a_realm_names_its_clients_and_admin_role() -> None:
    realm = RealmNames("acme")
    assert (realm.audience, realm.swagger_client, realm.admin_role) == (
        "acme-api",
        "acme-swagger",
        "acme-admin",
    )


@pytest.mark.parametrize("name", ["todo", "other"])
def test_the_test_suites_realms_are_not_development_realms(name: str) -> None:
    with pytest.raises(AnswerError, match="realm of the test suite"):
        RealmNames(name)
