"""``python -m app``: the command line, and uvicorn configured for this application (the
request-head and connection limits, the WebSocket protocol, GC tuning, graceful shutdown)."""
