"""The doctor's report as text for people and as JSON for programs (``--json``).

JSON schema (``"doctor": 1``; members are added, never renamed or removed, within a
version)::

    {
      "doctor": 1,
      "result": "accepted" | "refused" | "undecided" | "error",
      "exit_code": 0 | 1 | 2 | 3 | 4,
      "decided_by": null | {"step", "check", "error", "status"},
      "provider": "keycloak" | ...,
      "issuer": null | "<the trusted issuer the token names>",
      "findings": [
        {"step": "aud",                  # stable step name (ACCESS_TOKEN_STEPS, DPOP_STEPS...)
         "outcome": "pass" | "fail" | "unavailable" | "skip",
         "values": {...},                # what the step looked at; absent members left out
         "times": {"exp": "2026-...Z"},  # ISO 8601 UTC of the NumericDate values, or
                                         # "out of range" / "not a number"
         "check": null | "aud",          # the server's refusal code (auth.Check)
         "error": null | "invalid_token",
         "status": null | 401,
         "description": null | "...",
         "fix": null | "..."}
      ],
      "header": {...}, "claims": {...},  # with --show-claims only; never the signature
      "message": "..."                   # with result "error" only
    }

Values are as in the token, except numbers JSON cannot carry as written (``1e999``
parses as infinity), which are given as strings, and values nested deeper than
``MAX_DEPTH``, given as ``"..."``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._access_token import is_numeric_date
from ._diagnosis import Finding, Report
from ._steps import Absent, Outcome

SCHEMA_VERSION = 1
#: Nesting shown of a claim value; deeper parts are elided (a report is not a dump).
MAX_DEPTH = 32
#: Characters of one value shown in the text report.
MAX_TEXT_VALUE = 200
#: Values that are NumericDates (RFC 7519 §2), shown with their ISO 8601 time.
DATE_VALUES = frozenset({"exp", "iat", "nbf", "auth_time", "now"})
_LABELS = {
    Outcome.PASS: "PASS",
    Outcome.FAIL: "FAIL",
    Outcome.UNAVAILABLE: "N/A ",
    Outcome.SKIP: "SKIP",
}


def iso_time(value: Any) -> str:
    """A NumericDate as ISO 8601 UTC, or why it is not one. Never raises: the values
    come from a token, and ``1e999`` or a 400-digit ``exp`` must be reported, not crash."""
    if not is_numeric_date(value):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return "out of range" if numeric else "not a number"
    stamp = datetime.fromtimestamp(value, tz=UTC)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as strict JSON can carry it (see the module docstring)."""
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items() if v is not Absent.ABSENT}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _times(values: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: iso_time(value)
        for name, value in values.items()
        if name in DATE_VALUES and value is not Absent.ABSENT and value is not None
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "step": finding.step,
        "outcome": finding.outcome.value,
        "values": plain(finding.values),
        "times": _times(finding.values),
        "check": finding.check,
        "error": finding.error,
        "status": finding.status,
        "description": finding.description,
        "fix": finding.fix,
    }


def report_json(report: Report, *, exit_code: int, show_claims: bool) -> str:
    decided_by = report.decided_by
    document: dict[str, Any] = {
        "doctor": SCHEMA_VERSION,
        "result": report.verdict.value,
        "exit_code": exit_code,
        "decided_by": None
        if decided_by is None
        else {
            "step": decided_by.step,
            "check": decided_by.check,
            "error": decided_by.error,
            "status": decided_by.status,
        },
        "provider": report.provider.value,
        "issuer": report.issuer,
        "findings": [finding_json(finding) for finding in report.findings],
    }
    if show_claims:
        document["header"] = plain(report.header)
        document["claims"] = plain(report.claims)
    return json.dumps(document, indent=2, allow_nan=False)


def error_json(message: str, *, exit_code: int) -> str:
    return json.dumps(
        {"doctor": SCHEMA_VERSION, "result": "error", "exit_code": exit_code, "message": message}
    )


def _shown(name: str, value: Any) -> str:
    if value is Absent.ABSENT:
        return f"{name}=absent"
    text = repr(plain(value))
    if len(text) > MAX_TEXT_VALUE:
        text = f"{text[:MAX_TEXT_VALUE]}...({len(text) - MAX_TEXT_VALUE} more characters)"
    if name in DATE_VALUES and value is not None:
        text += f" ({iso_time(value)})"
    return f"{name}={text}"


def finding_detail(finding: Finding) -> str:
    """The values a step looked at, and why it failed or was skipped."""
    shown = " ".join(_shown(name, value) for name, value in finding.values.items())
    if finding.description:
        return f"{shown}: {finding.description}" if shown else finding.description
    return shown


def render(report: Report, *, show_claims: bool = False) -> str:
    lines = []
    if show_claims and report.claims is not None:
        lines.append("header: " + json.dumps(plain(report.header), indent=2))
        lines.append("claims: " + json.dumps(plain(report.claims), indent=2))
    for number, finding in enumerate(report.findings, 1):
        label = _LABELS[finding.outcome]
        lines.append(f"{number:2} {label} {finding.step:<14} {finding_detail(finding)}")
        if finding.fix:
            lines.append(f"{'':23}{'note' if finding.passed else 'fix'}: {finding.fix}")
    decided_by = report.decided_by
    if decided_by is None:
        lines.append("result: accepted")
    elif decided_by.outcome is Outcome.FAIL:
        check = f" ({decided_by.check})" if decided_by.check != decided_by.step else ""
        lines.append(f"result: refused at {decided_by.step}{check}")
    else:
        lines.append(f"result: undecided at {decided_by.step}: the server would answer 503")
    return "\n".join(lines)
