"""The user's resource: its names, and what the generator writes in place of the todo."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.naming import AnswerError
from generator.resource import ResourceNames, replace_todo


def test_names_derived_from_the_singular_and_plural() -> None:
    names = ResourceNames("invoice_line", "invoice_lines")
    assert (names.class_name, names.constant, names.words) == (
        "InvoiceLine",
        "INVOICE_LINES",
        "invoice lines",
    )


@pytest.mark.parametrize(
    ("singular", "plural", "complaint"),
    [
        ("Pet", "pets", "lowercase words"),
        ("pet-type", "pet-types", "lowercase words"),
        ("x" * 21, "pets", "at most 20"),
        ("user", "users", "taken by the service"),
        ("todo", "todos", "taken by the service"),
        ("sheep", "sheep", "must differ"),
    ],
)
def test_names_that_cannot_be_a_module_a_table_and_a_path_are_refused(
    singular: str, plural: str, complaint: str
) -> None:
    with pytest.raises(AnswerError, match=complaint):
        ResourceNames(singular, plural)


def test_the_todo_gives_way_to_the_resource(repository_copy: Path) -> None:
    replace_todo(repository_copy, ResourceNames("pet", "pets"))
    data = repository_copy / "app" / "data"
    assert "PETS = OwnedResource(" in (data / "pets.py").read_text()
    listing = (data / "resources.py").read_text()
    assert "RESOURCES: tuple[OwnedResource, ...] = (PETS,)" in listing
    assert "todos" not in listing.split('"""')[-1]  # the docstring may mention the example
    versions = repository_copy / "migrations" / "versions"
    migration = (versions / "0001_users_and_pets.py").read_text()
    assert migration.startswith('"""users and pets')
    assert '"todos"' not in migration
    assert 'op.create_index(\n        "ix_pets_owner_id_id",' in migration
    assert not (versions / "0001_users_and_todos.py").exists()
    health = (repository_copy / "tests" / "app" / "test_health.py").read_text()
    assert "/api/todos" not in health
    assert '"/api/pets/{pet_id}"' in health
    summary = (repository_copy / "app" / "main.py").read_text()
    assert 'summary="Per-user pets, behind OIDC access tokens.",' in summary
