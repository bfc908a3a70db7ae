"""The HTTP layer: routes, the dependencies they declare, error answers (RFC 9457), the
OpenAPI document and its pages, conditional requests, readiness, the live socket."""
