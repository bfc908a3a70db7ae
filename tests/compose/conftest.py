"""The engine and the images for the tiers that run containers (tests/compose/stack.py).

Package scope: the engine, when it is one of our own, is stopped as soon as these tiers
are done, not at the end of the whole session. When there is no engine to be had, the
ComposeUnavailable raised here says why, and every test of the tier fails with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compose.stack import Engine, engine, image_variables


@pytest.fixture(scope="package")
def docker_engine() -> Iterator[Engine]:
    """The machine's Docker engine, or one started for these tests (compose/engine.sh)."""
    with engine() as docker:
        yield docker


@pytest.fixture(scope="package")
def images(docker_engine: Engine) -> dict[str, str]:
    """VARIABLE -> image: upstream where available, the Debian-built stand-ins otherwise."""
    return image_variables(docker_engine)
