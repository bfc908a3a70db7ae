"""Asserting a refusal by its stable codes (``auth._errors.Check`` and the RFC error
class), never by the wording of its description, which is for people and may change."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from auth._errors import AuthError, Check
from auth._jws import Defect, MalformedJws


@contextlib.contextmanager
def refused(
    check: Check, error: type[AuthError] = AuthError
) -> Iterator[pytest.ExceptionInfo[AuthError]]:
    """The block raises ``error`` (or a subclass) carrying ``check``."""
    with pytest.raises(error) as caught:
        yield caught
    assert caught.value.check is check, (
        f"refused by {caught.value.check!s} ({caught.value.description}), expected {check!s}"
    )


@contextlib.contextmanager
def malformed(defect: Defect) -> Iterator[pytest.ExceptionInfo[MalformedJws]]:
    """The block raises ``MalformedJws`` for ``defect``."""
    with pytest.raises(MalformedJws) as caught:
        yield caught
    assert caught.value.defect is defect, (
        f"{caught.value.defect!s} ({caught.value}), not {defect!s}"
    )
