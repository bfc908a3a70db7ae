"""Keeping tokens and proofs out of log lines.

uvicorn's access log prints the request line with its query string, so a client that
sends ``?access_token=...`` would have its token written to the log even though the
request is refused. This filter rewrites such values, and any JWT-shaped string, in
every record of the loggers it is attached to.

Redaction runs on text an attacker chooses (a request target, before authentication),
so every pattern here runs in time linear in its input: each one, once past its literal
start, cannot fail, so the search never rescans what a failed attempt has read (a run
of ``eyJeyJeyJ...`` once cost time quadratic in its length). ``tests/auth/
test_redaction.py`` holds worst-case inputs to a ratio against plain text.
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAMETERS = ("access_token", "id_token", "refresh_token", "token", "dpop")
_QUERY_SECRET = re.compile(rf"(?i)((?:{'|'.join(_SECRET_PARAMETERS)})=)[^&\s\"]*")
# From "eyJ" (base64url of '{"', how a JWS or JWE header starts) to the end of the run of
# base64url characters and dots: always matches, so each character is read once. The run
# is a token when it holds at least three segments (a JWS has three, a JWE five).
_JWT_RUN = re.compile(r"eyJ[A-Za-z0-9_.-]*")


def _redact_jwt(match: re.Match[str]) -> str:
    run = match.group()
    return "[redacted-jwt]" if run.count(".") >= 2 else run


def redact(text: str) -> str:
    """``text`` with token-like values replaced by ``[redacted]``."""
    # Most strings hold neither a secret parameter nor a JWT, and a substring test costs
    # a fraction of a regex: each regex runs only when its literal part is there. Every
    # name in _SECRET_PARAMETERS ends in "token" or "dpop", and every character that
    # (?i) matches to one of their letters lower-cases to it (a test checks all code
    # points), so this never skips a value the regex would replace.
    if "=" in text:
        lowered = text.lower()
        if "token=" in lowered or "dpop=" in lowered:
            text = _QUERY_SECRET.sub(r"\1[redacted]", text)
    if "eyJ" in text:
        text = _JWT_RUN.sub(_redact_jwt, text)
    return text


#: What a logged request target keeps: the path's first characters, and the first names
#: of its query, each cut short. A target can be 8 KiB (more behind another server).
MAX_PATH_CHARS = 1024
MAX_QUERY_NAMES = 20
MAX_QUERY_NAME_CHARS = 64


def redact_target(path: str, query: str = "") -> str:
    """A request target fit for a log line or a trace: the path (at most
    ``MAX_PATH_CHARS``), and the query's names (at most ``MAX_QUERY_NAMES``) with every
    value replaced, whatever its name: a ticket, a code or a session id is as secret as
    a token. ``path`` may still hold its query (``/a?b=c``) when ``query`` is empty."""
    if not query:
        path, _, query = path.partition("?")
    path = path[:MAX_PATH_CHARS]
    if not query:
        return path
    # At most MAX_QUERY_NAMES splits: a query of thousands of pairs costs no more.
    pairs = query.split("&", MAX_QUERY_NAMES)[:MAX_QUERY_NAMES]
    names = [pair.partition("=")[0][:MAX_QUERY_NAME_CHARS] for pair in pairs if pair]
    return path + "?" + "&".join(f"{name}=[redacted]" for name in names)


# uvicorn's own lines that carry a request target, and the position of the target among
# their arguments: the access log's request line, and the WebSocket handshake's line.
_TARGET_ARGUMENT = {
    '%s - "%s %s HTTP/%s" %d': 2,
    '%s - "WebSocket %s" [accepted]': 1,
    '%s - "WebSocket %s" 403': 1,
    '%s - "WebSocket %s" %d': 1,
}


class TokenRedactingFilter(logging.Filter):
    """A logging filter that redacts tokens from a record's message and arguments, and
    gives the request target of uvicorn's access and WebSocket lines the treatment of
    ``redact_target``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(record.msg, str):
            position = _TARGET_ARGUMENT.get(record.msg)
            if position is not None and isinstance(args, tuple) and len(args) > position:
                target = args[position]
                if isinstance(target, str):
                    args = (*args[:position], redact_target(target), *args[position + 1 :])
            record.msg = redact(record.msg)
        if isinstance(args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)
        return True


def install_token_redaction(*logger_names: str) -> None:
    """Attach the filter to the named loggers (default: uvicorn's access and error logs)."""
    for name in logger_names or ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, TokenRedactingFilter) for existing in logger.filters):
            logger.addFilter(TokenRedactingFilter())
