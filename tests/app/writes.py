"""What the write-path tests share: a user row to own rows, and the events a socket got."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.data import crud
from app.data.database import Database
from app.events.broker import Subscription


async def new_owner(database: Database, subject: str = "writer") -> uuid.UUID:
    """The id of a user of the test issuer, created on first use."""
    return await crud.ensure_user(
        database, issuer="https://issuer.test", subject=subject, name=None, email=None
    )


def received(subscription: Subscription) -> list[dict[str, Any]]:
    """The events queued for ``subscription`` so far, decoded, and the queue emptied."""
    return [json.loads(message) for message in subscription.take_queued()]
