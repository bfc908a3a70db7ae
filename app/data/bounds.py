"""The ranges of the numbers the database stores. A value a column cannot hold fails in
the driver (asyncpg binds an int to the column's type: beyond int4 it is a ``DataError``
at execution) and only on PostgreSQL (SQLite's INTEGER holds 64 bits), so the HTTP layer
refuses it first, against these."""

from __future__ import annotations

#: SQL INTEGER as PostgreSQL has it (int4); SQLite's is wider, so this holds on both.
INTEGER_MAX = 2**31 - 1

#: A todo's version (``todos.version``, INTEGER, from 1). A write adds one: a row reaches
#: the end of the range after two billion writes, where the write fails (500).
VERSION_MAX = INTEGER_MAX
