"""How the service reports on itself: log lines, Prometheus metrics, OpenTelemetry traces.

``requests`` observes every request once (its id, one access line, request and auth
metrics); ``logs`` renders every logger of the process as JSON or text; ``metrics``
holds the registry and reads the services' counters when scraped; ``tracing`` turns
spans on when an OTLP endpoint is configured. What each setting does, and what changes
with several worker processes: docs/operations.md.
"""
