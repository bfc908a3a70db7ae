"""How deeply a JSON document nests, found before it is parsed.

``json.loads`` recurses once per level of nesting. On Python 3.11 it gives up near 1,000
levels with ``RecursionError``; on Python 3.13 it parses 5,000 nested arrays, and what
walks the value afterwards meets depths it was never tested with. So wherever this
package or the application parses JSON a client sent (a token's header and payload, a
DPoP proof, an issuer's documents, WebSocket messages, request bodies), the depth is
bounded here first, the same on every interpreter.

A linear scan, and cheap on the usual input: a document with no more ``[`` and ``{``
than the limit cannot nest deeper, so most documents cost two ``count`` calls. Otherwise
the escape sequences are dropped (so every remaining ``"`` opens or closes a string),
what lies inside strings is set aside, and the depth is the running sum of the brackets
left. Where the document is not JSON the answer may be too high, never too low before
the point where the parser would stop: it only ever refuses what would fail anyway.
Written by hand: no parser in the standard library bounds depth, and the fast C ones
that do (orjson's 1,024) neither refuse duplicate members nor take a limit.
"""

from __future__ import annotations

import re
from itertools import accumulate

#: Nesting allowed in tokens, proofs and an issuer's documents: Keycloak's
#: ``resource_access.<client>.roles`` is 3 deep, a JWKS 3.
MAX_JSON_NESTING = 32

_ESCAPE = re.compile(r"\\.", re.DOTALL)
_ESCAPE_BYTES = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_NOT_BRACKET_BYTES = re.compile(rb"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1, 91: 1, 123: 1, 93: -1, 125: -1}


def json_nesting_exceeds(document: str | bytes | bytearray, limit: int = MAX_JSON_NESTING) -> bool:
    """True when the arrays and objects of ``document`` nest deeper than ``limit``
    (``{}`` is 1, ``{"a": [1]}`` 2). Runs in time linear in ``document``."""
    if isinstance(document, str):
        if document.count("[") + document.count("{") <= limit:
            return False
        outside = "".join(_ESCAPE.sub("", document).split('"')[::2])
        brackets: str | bytes = _NOT_BRACKET.sub("", outside)
    else:
        if document.count(b"[") + document.count(b"{") <= limit:
            return False
        outside_bytes = b"".join(_ESCAPE_BYTES.sub(b"", document).split(b'"')[::2])
        brackets = _NOT_BRACKET_BYTES.sub(b"", outside_bytes)
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0)) > limit
