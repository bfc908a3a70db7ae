"""Token verification as an OpenTelemetry span, when OpenTelemetry is there.

``opentelemetry-api`` is an optional dependency: without it, or while no tracer provider
is set (OpenTelemetry's global one is still its proxy), no span is made at all: a span
that records nothing still costs a context switch of its own on every request. The span is named
``auth.verify`` and carries the outcome (``ok`` or the RFC error code), the scheme and,
on refusal, the name of the failed check (``auth.check``); never the token, the proof
or a claim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._errors import AuthError

try:
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # pragma: no cover (the extra is installed in this repository)
    trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ._principal import Principal

SPAN_NAME = "auth.verify"


def tracing_enabled() -> bool:
    """Whether ``verification_span`` would make a span: OpenTelemetry is installed and a
    tracer provider is set. Callers skip the span's context manager otherwise."""
    return trace is not None and not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    )


@contextlib.contextmanager
def verification_span() -> Iterator[VerificationSpan]:
    """A span around one verification; set ``.principal`` on success.

    Raises:
        AuthError: re-raised as is, after it is recorded on the span.
    """
    outcome = VerificationSpan()
    if not tracing_enabled():
        yield outcome
        return
    tracer = trace.get_tracer("auth")
    with tracer.start_as_current_span(
        SPAN_NAME, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield outcome
        except AuthError as error:
            if span.is_recording():
                check = str(error.check)
                span.set_attributes(
                    {
                        "auth.outcome": error.error or "missing_credentials",
                        "auth.scheme": error.scheme or "none",
                        "auth.check": check,
                    }
                )
                span.set_status(Status(StatusCode.ERROR, check or error.error))
            raise
        if span.is_recording() and outcome.principal is not None:
            span.set_attributes(
                {
                    "auth.outcome": "ok",
                    "auth.scheme": "DPoP" if outcome.principal.dpop_bound else "Bearer",
                }
            )


class VerificationSpan:
    """What the caller tells the span: the principal, once verified."""

    principal: Principal | None = None
