"""The library's loggers, named after the package as it is imported.

From this repository that is ``auth`` (``auth.jwks``, ``auth.fastapi``...); from the
wheel, ``oidc_resource_server`` (``oidc_resource_server.jwks``...). A literal ``"auth"``
would share its name with an application's own ``auth`` module and its loggers (a
``logging.getLogger("auth").setLevel(...)`` of theirs would silence or flood ours), and
would not be the name a user of the wheel looks for.
"""

from __future__ import annotations

import logging

#: ``auth`` in this repository, ``oidc_resource_server`` when installed from the wheel.
PACKAGE = __name__.rpartition(".")[0]


def library_logger(name: str) -> logging.Logger:
    """The logger ``<package>.<name>``, e.g. ``library_logger("jwks")``."""
    return logging.getLogger(f"{PACKAGE}.{name}")
