"""The data layer: tables, the statements built once per dialect, the SQLite and PostgreSQL
backends that run them, and the only module that writes (``crud``). Raises no HTTP errors."""
