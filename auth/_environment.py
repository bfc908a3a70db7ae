"""Reading the settings from the environment, and saying what is wrong with them.

``read_settings`` builds ``AuthSettings`` (or an application's subclass) from ``OIDC_*``
variables and an optional ``.env`` file. An invalid value becomes one sentence naming
each variable at fault, with no traceback and never the value (it may be a secret);
an ``OIDC_*`` variable that is no setting (a typo, a setting renamed since) is reported
with the nearest known name, since otherwise it would be ignored without a word.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar, overload

from dotenv import dotenv_values
from pydantic import ValidationError

from ._errors import ConfigurationError
from ._logs import PACKAGE, library_logger
from ._settings import AuthSettings

logger = library_logger("settings")

PREFIX = "OIDC_"
#: Settings this library read under another name, and what replaced them, so that an
#: old deployment's variable is not just ignored.
RENAMED = {
    "OIDC_ACCEPT_JWT_TYP": (
        'it was replaced by OIDC_ACCEPTED_TYP (its true is OIDC_ACCEPTED_TYP="at+jwt jwt")'
    ),
}

#: ``OIDC_*`` variables read by something else than the settings: the doctor's client
#: secret (``python -m auth.doctor --client-id``), never an argument.
DOCTOR_CLIENT_SECRET = "OIDC_DOCTOR_CLIENT_SECRET"  # noqa: S105 (a variable's name)
_NOT_SETTINGS = frozenset({DOCTOR_CLIENT_SECRET})

S = TypeVar("S", bound=AuthSettings)


def _variable(location: tuple[int | str, ...]) -> str:
    """``("issuers", 0, "tenants")`` -> ``OIDC_ISSUERS[0].tenants``."""
    name = f"{PREFIX}{str(location[0]).upper()}"
    for part in location[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def settings_error(exc: ValidationError) -> ConfigurationError:
    """One sentence for every invalid ``OIDC_*`` value: the variable, then what is wrong."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        location = tuple(error["loc"])
        problems.append(f"{_variable(location)}: {message}" if location else message)
    return ConfigurationError("invalid settings: " + "; ".join(problems))


def known_variables(settings_cls: type[AuthSettings]) -> frozenset[str]:
    return frozenset(f"{PREFIX}{name.upper()}" for name in settings_cls.model_fields)


def unknown_variables(
    settings_cls: type[AuthSettings],
    names: Iterable[str],
    *,
    known_elsewhere: Iterable[str] = (),
) -> list[str]:
    """A sentence for each ``OIDC_*`` name in ``names`` that is no setting, with the
    setting it was renamed to or the nearest known name."""
    known = (
        known_variables(settings_cls) | _NOT_SETTINGS | {name.upper() for name in known_elsewhere}
    )
    sentences = []
    for name in sorted({name.upper() for name in names if name.upper().startswith(PREFIX)}):
        if name in known:
            continue
        if name in RENAMED:
            hint = RENAMED[name]
        elif close := _nearest(name, known):
            hint = f"did you mean {' or '.join(close)}?"
        else:
            hint = "no setting has a similar name"
        sentences.append(f"{name} is not a setting of {PACKAGE} and is ignored: {hint}")
    return sentences


def _nearest(name: str, known: Iterable[str]) -> list[str]:
    """The closest known name, and the next one too when it is nearly as close
    (``OIDC_ISSUER``: ``OIDC_ISSUERS`` or ``OIDC_ISSUER_URI``)."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, other).ratio(), other) for other in known),
        reverse=True,
    )
    best = scored[0][0] if scored else 0.0
    return [other for score, other in scored[:2] if score >= max(0.8, best - 0.12)]


# Overloads: a parameter's default does not bind the TypeVar, so without them a strict
# caller's ``settings = read_settings()`` has no type.
@overload
def read_settings(
    *, env_file: str | Path | None = None, known_elsewhere: Iterable[str] = ()
) -> AuthSettings: ...
@overload
def read_settings(
    settings_cls: type[S],
    *,
    env_file: str | Path | None = None,
    known_elsewhere: Iterable[str] = (),
) -> S: ...
def read_settings(
    settings_cls: type[S] = AuthSettings,  # type: ignore[assignment]
    *,
    env_file: str | Path | None = None,
    known_elsewhere: Iterable[str] = (),
) -> S:
    """``settings_cls`` from the ``OIDC_*`` environment and ``env_file`` (when it exists;
    the environment wins), logging a warning for each ``OIDC_*`` variable that is no
    setting. ``known_elsewhere``: ``OIDC_*`` names the application reads itself.

    Raises:
        ConfigurationError: a value is invalid or settings contradict each other; the
            message names every variable at fault, never a value.
    """
    names = list(os.environ)
    if env_file is not None and Path(env_file).is_file():
        names += [name for name in dotenv_values(env_file) if name]
    for sentence in unknown_variables(settings_cls, names, known_elsewhere=known_elsewhere):
        logger.warning("%s", sentence)
    try:
        return settings_cls(_env_file=env_file)
    except ValidationError as exc:
        raise settings_error(exc) from None
