"""Which user row a principal is: created on first sight, refreshed when the token's
name or email change, remembered so a known, unchanged user costs no database round trip."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from app.data import crud
from app.data.database import Database
from auth import Principal


class KnownUsers:
    """Bounded LRU map from (issuer, subject) to the user id, name and email last written."""

    def __init__(self, database: Database, max_entries: int = 100_000) -> None:
        self._database = database
        self._entries: OrderedDict[tuple[str, str], tuple[uuid.UUID, str | None, str | None]] = (
            OrderedDict()
        )
        self._max_entries = max_entries

    async def user_id(self, principal: Principal) -> uuid.UUID:
        """The principal's user id, writing the user row when it is new or changed."""
        key = (principal.issuer, principal.subject)
        entry = self._entries.get(key)
        if entry is not None and entry[1:] == (principal.name, principal.email):
            self._entries.move_to_end(key)
            return entry[0]
        user_id = await crud.ensure_user(
            self._database,
            issuer=principal.issuer,
            subject=principal.subject,
            name=principal.name,
            email=principal.email,
        )
        self._entries[key] = (user_id, principal.name, principal.email)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return user_id
