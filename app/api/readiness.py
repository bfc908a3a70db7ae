"""Readiness of the parts a request needs: the database, the signing keys, the event
broker, Redis when configured.

Strangers (``/readyz``) get one word per part and 503 when one is not ready (for the
signing keys, whether the identity provider is ``unavailable`` or ``misconfigured``); the
detail (issuer, key counts, socket counts, the last error and the setting to fix, which
can name internal URLs) goes to the log when a part is not ready, and to holders of the
admin role (``/api/admin/readiness``). The log gets it when the set of failing parts
changes, and otherwise once a minute at most: a probe polling every second while the
identity provider is down would write a line per poll (``Services.not_ready_log``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from app.services import Services


@dataclass(frozen=True)
class Readiness:
    #: Each part's detail; every one has ``ok``.
    checks: dict[str, dict[str, Any]]

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def public(self) -> dict[str, Any]:
        """What anyone may see: one word per part, ``ok`` or, when it is not, its state
        if it has one (the authenticator's ``unavailable``: the identity provider does
        not answer; ``misconfigured``: its answer can never work, an operator must fix a
        setting), else ``not ok``."""
        parts = {
            name: "ok" if check["ok"] else str(check.get("state", "not ok"))
            for name, check in self.checks.items()
        }
        return {"ready": self.ready, "checks": parts}

    def detail(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": self.checks}


async def check_readiness(services: Services) -> Readiness:
    """Check every part now; log the detail of those that are not ready."""
    checks: dict[str, dict[str, Any]] = {
        "database": {"ok": await services.database.is_reachable()},
        "auth": {"ok": services.authenticator.is_ready(), **services.authenticator.status()},
        "events": services.broker.status(),  # feature: live
    }
    if services.redis is not None:
        checks["redis"] = {"ok": await services.redis_is_reachable()}
    readiness = Readiness(checks)
    if not readiness.ready:
        failing = {name: check for name, check in checks.items() if not check["ok"]}
        services.not_ready_log.log(
            logging.WARNING,
            tuple(sorted(failing)),
            "not ready: %s",
            json.dumps(failing, default=str),
        )
    return readiness
