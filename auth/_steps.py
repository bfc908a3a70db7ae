"""A validation written once, as a fixed sequence of named steps that the verifier runs
and the doctor walks.

The verifier calls ``run_steps``: each step in order, the first failure raised, and
nothing else on the way (no observer, no outcome recorded), so the hot path pays for
one call per step. The doctor (``auth._diagnosis``) calls ``walk_steps`` on the
very same sequence: every step is tried and its outcome recorded, so one report says
everything that is wrong, not only the first thing. A step that uses what an earlier
step found (``needs``) is skipped when that step did not pass.

A step reads and writes one mutable state object (what is being checked, against which
policy, and what the earlier steps found), so adding a check is adding one ``Step`` at
its place in a sequence: ``auth._access_token.ACCESS_TOKEN_STEPS`` for access tokens
(RFC 9068), ``auth._dpop.DPOP_STEPS`` for proofs (RFC 9449).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Generic, TypeVar

from ._errors import AuthError, ServiceUnavailable

State = TypeVar("State")


class Absent(Enum):
    """A member missing from a header or a payload, told apart from ``null`` in the
    values a step shows (a JSON report leaves the member out)."""

    ABSENT = "absent"

    def __repr__(self) -> str:
        return "absent"


def member(mapping: Mapping[str, Any], name: str) -> Any:
    """``mapping[name]``, or ``Absent.ABSENT``: for the values a step shows."""
    return mapping.get(name, Absent.ABSENT)


def _nothing(_: object) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Step(Generic[State]):
    """One named check of a sequence."""

    #: Stable and short: the doctor's reports and ``--json`` output use it.
    name: str
    #: Raises an ``AuthError`` carrying the check's code when the check fails; may store
    #: what it found on the state for later steps. Returns an awaitable when it has to
    #: wait (a key lookup, the replay store), else None.
    run: Callable[[State], Awaitable[None] | None]
    #: The values the check looks at, for a report. Never called by the verifier, so it
    #: costs nothing there; it must not raise on any parsed token.
    shows: Callable[[State], Mapping[str, Any]] = _nothing
    #: Earlier steps whose findings ``run`` uses: when one of them did not pass, a walk
    #: skips this step.
    needs: tuple[str, ...] = ()


def run_steps(steps: Sequence[Step[State]], state: State) -> Awaitable[None]:
    """Run ``steps`` in order on ``state`` (await the result).

    Raises:
        AuthError: the first step that fails.
    """
    compiled = _COMPILED.get(id(steps))
    if compiled is None or compiled[0] is not steps:
        compiled = (steps, _straight_line(steps))
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.clear()
        _COMPILED[id(steps)] = compiled
    runner: Callable[[State], Awaitable[None]] = compiled[1]
    return runner(state)


# Each sequence is run by a coroutine written out for it, step after step, as a loop
# over the steps would be: the loop, its attribute lookups and a coroutine of its own
# cost about 1 µs per token or proof, measured against the checks called one after
# another (dataclasses writes its __init__ the same way). The generated text holds
# nothing but indices into the sequence. Kept by the identity of the sequence.
_COMPILED: dict[int, tuple[Sequence[Any], Callable[[Any], Awaitable[None]]]] = {}
_MAX_COMPILED = 64


def _straight_line(steps: Sequence[Step[State]]) -> Callable[[State], Awaitable[None]]:
    lines = ["async def run(state):", "    pass"]
    for index in range(len(steps)):
        lines.append(f"    if (pending := run_{index}(state)) is not None:")
        lines.append("        await pending")
    namespace: dict[str, Any] = {f"run_{i}": step.run for i, step in enumerate(steps)}
    exec("\n".join(lines), namespace)  # noqa: S102 (text built above from indices only)
    runner: Callable[[State], Awaitable[None]] = namespace["run"]
    return runner


class Outcome(StrEnum):
    """What one step of a walk came to."""

    PASS = "pass"  # noqa: S105 (an outcome, not a secret)
    #: The check refused: the verifier would answer with the step's ``AuthError``.
    FAIL = "fail"
    #: The check could not be made (the issuer's keys or the replay store could not be
    #: reached): the verifier would answer 503, neither accepting nor refusing.
    UNAVAILABLE = "unavailable"
    #: Not tried: a step it needs did not pass.
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Walked(Generic[State]):
    """One step of a walk and its outcome."""

    step: Step[State]
    outcome: Outcome
    #: The failure, for ``FAIL`` and ``UNAVAILABLE``.
    error: AuthError | None = None
    #: For ``SKIP``: the needed steps that did not pass.
    missing: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


async def walk_steps(steps: Sequence[Step[State]], state: State) -> list[Walked[State]]:
    """Try every step of ``steps`` in order on ``state``, past failures, and return each
    one's outcome. Exceptions other than ``AuthError`` propagate, as in ``run_steps``."""
    walked: list[Walked[State]] = []
    passed: set[str] = set()
    for step in steps:
        missing = tuple(name for name in step.needs if name not in passed)
        if missing:
            walked.append(Walked(step, Outcome.SKIP, missing=missing))
            continue
        try:
            pending = step.run(state)
            if pending is not None:
                await pending
        except ServiceUnavailable as error:
            walked.append(Walked(step, Outcome.UNAVAILABLE, error))
        except AuthError as error:
            walked.append(Walked(step, Outcome.FAIL, error))
        else:
            passed.add(step.name)
            walked.append(Walked(step, Outcome.PASS))
    return walked
