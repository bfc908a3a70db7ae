"""The owned resources this service holds, each declared once (``app.data.owned``).

The application serves a router for each (``app.api.resources``), the database compiles
their statements when it opens, and Alembic compares their tables with the migrations.
To add one, declare it in a module of its own and list it here (docs/add-a-resource.md).
"""

from __future__ import annotations

from app.data.owned import OwnedResource
from app.data.todos import TODOS

RESOURCES: tuple[OwnedResource, ...] = (TODOS,)
