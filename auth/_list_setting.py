"""How a list-valued setting is written in the environment, parsed in one place for the
library's ``OIDC_*`` settings and for an application's own."""

from __future__ import annotations

import json


def parse_list_setting(value: object) -> object:
    """``"a b"``, ``"a,b"`` (spaces and commas both separate), or a JSON array
    (``'["a", "b"]'``, for items that hold a space or a comma). Anything but a string (a
    default, a list given in code) is returned as it is, for the field's type to check.

    Declare such a field ``Annotated[tuple[str, ...], NoDecode]`` and call this from a
    ``mode="before"`` validator: pydantic-settings would otherwise insist on JSON.

    Raises:
        ValueError: a value starting with ``[`` is not valid JSON (``JSONDecodeError``).
    """
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped.startswith("["):
        return json.loads(stripped)
    return tuple(word for word in stripped.replace(",", " ").split() if word)
