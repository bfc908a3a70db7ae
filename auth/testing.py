"""A test issuer: keys, JWKS, discovery, access tokens and DPoP proofs on demand.

Used by this project's tests and local development so that everything above unit
level runs the real verifier on really signed tokens. It signs whatever it is asked
to, including malformed and hostile tokens: it is a tool for tests, never an IdP.

    python -m auth.testing --port 8081   # serve discovery + JWKS, print a token
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ._dpop import access_token_hash
from ._jws import Key, b64url_encode
from ._settings import AuthSettings

if TYPE_CHECKING:
    from starlette.applications import Starlette

_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def generate_key(alg: str) -> Key:
    """A fresh private key for ``alg`` (RSA keys are 2048 bits)."""
    if alg in _CURVES:
        return ECKey.generate_key(_CURVES[alg])
    if alg in ("EdDSA", "Ed25519"):
        return OKPKey.generate_key("Ed25519")
    return RSAKey.generate_key(2048)


def _segment(value: Mapping[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64url_encode(raw)


def sign_compact(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes,
    key: Key | OctKey,
    alg: str,
) -> str:
    """Sign arbitrary header and payload (raw bytes allowed, for malformed JSON), with
    any key joserfc signs with: an ``OctKey`` forges the HS256 tokens and proofs that
    must be refused."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    signature = JWSRegistry.algorithms[alg].sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{b64url_encode(signature)}"


class DpopKey:
    """A client's DPoP key pair, making proofs (RFC 9449 §4.2)."""

    def __init__(self, alg: str = "ES256", key: Key | None = None) -> None:
        self.alg = alg
        self.key = key if key is not None else generate_key(alg)

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        nonce: str | None = None,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        proof_header: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        payload: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        if nonce is not None:
            payload["nonce"] = nonce
        proof_header.update(header or {})
        payload.update(claims or {})
        return sign_compact(proof_header, payload, self.key, self.alg)


class TestIssuer:
    """An OpenID provider in a box: signing keys, discovery, JWKS and token minting."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, issuer: str = "https://issuer.test/realms/todo", *, audience: str = "todo-api"
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.keys: dict[str, tuple[str, Key]] = {}
        self.current_kid: dict[str, str] = {}
        self.jwks_requests = 0
        self.discovery_requests = 0
        self.available = True
        self.cache_control = "max-age=300"
        for alg in ("RS256", "ES256"):
            self.add_key(alg)

    @property
    def discovery_uri(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def add_key(self, alg: str, *, kid: str | None = None) -> str:
        """Generate and publish a key; new tokens for ``alg`` are signed with it."""
        kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
        self.keys[kid] = (alg, generate_key(alg))
        self.current_kid[alg] = kid
        return kid

    def remove_key(self, kid: str) -> None:
        del self.keys[kid]

    def discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "dpop_signing_alg_values_supported": ["ES256", "RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        keys = [
            {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": alg}
            for kid, (alg, key) in self.keys.items()
        ]
        return {"keys": keys}

    def claims(self, subject: str = "alice", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": [self.audience, "account"],
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "client_id": "todo-spa",
            "azp": "todo-spa",
            "scope": "openid profile email",
            "name": subject.title(),
            "preferred_username": subject,
            "email": f"{subject}@example.test",
            "realm_access": {"roles": ["todo-user"]},
            "groups": ["customers"],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        subject: str = "alice",
        *,
        alg: str = "RS256",
        kid: str | None = None,
        dpop_key: DpopKey | None = None,
        header: Mapping[str, Any] | None = None,
        more_claims: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token; ``None`` as a claim or header value removes it.
        ``more_claims`` are claims too, for names that are parameters here (``alg``)."""
        kid = kid or self.current_kid.get(alg) or self.add_key(alg)
        _, key = self.keys[kid]
        payload = self.claims(subject, **{**claims, **(more_claims or {})})
        if dpop_key is not None:
            payload["cnf"] = {"jkt": dpop_key.jkt}
        jws_header: dict[str, Any] = {"typ": "at+jwt", "alg": alg, "kid": kid}
        jws_header.update(header or {})
        jws_header = {name: value for name, value in jws_header.items() if value is not None}
        return sign_compact(jws_header, payload, key, alg)

    def token_for(self, parameters: Mapping[str, str]) -> str:
        """A token from ``/token``'s parameters, all optional: ``sub`` (default
        ``alice``); ``scope``, space-separated; ``roles``, comma-separated (Keycloak's
        ``realm_access.roles``; default ``todo-user``); ``claims``, a JSON object of any
        other claims (``null`` removes one); ``jkt``, a DPoP key's RFC 7638 thumbprint
        the token is bound to (``cnf.jkt``).

        Raises:
            ValueError: ``claims`` is not a JSON object.
        """
        claims: dict[str, Any] = {}
        if "claims" in parameters:
            try:
                claims = json.loads(parameters["claims"])
            except ValueError:
                raise ValueError("claims must be a JSON object") from None
            if not isinstance(claims, dict):
                raise ValueError("claims must be a JSON object")
        roles = [role for role in parameters.get("roles", "todo-user").split(",") if role]
        minted: dict[str, Any] = {"realm_access": {"roles": roles}}
        if "scope" in parameters:
            minted["scope"] = " ".join(parameters["scope"].split())
        if "jkt" in parameters:
            minted["cnf"] = {"jkt": parameters["jkt"]}
        minted.update(claims)
        return self.token(parameters.get("sub", "alice"), more_claims=minted)

    def settings(self, **overrides: Any) -> AuthSettings:
        """``AuthSettings`` trusting this issuer (its issuer and audience), the rest from
        ``overrides`` and the environment."""
        values: dict[str, Any] = {"issuer_uri": self.issuer, "audience": self.audience}
        return AuthSettings(**{**values, **overrides})

    def handle(self, request: httpx.Request) -> httpx.Response:
        """An httpx transport handler serving discovery and JWKS (for MockTransport)."""
        if not self.available:
            return httpx.Response(503)
        url = str(request.url)
        if url == self.discovery_uri:
            self.discovery_requests += 1
            return httpx.Response(200, json=self.discovery_document())
        if url == self.jwks_uri:
            self.jwks_requests += 1
            return httpx.Response(
                200, json=self.jwks(), headers={"Cache-Control": self.cache_control}
            )
        return httpx.Response(404)

    def asgi_app(self) -> Starlette:
        """The issuer over real HTTP: discovery, JWKS, and ``/token``, which mints a
        Bearer token from its parameters (``token_for``), in the query (``GET``) or a
        form (``POST``): a development convenience; there is no login and no client.
        Needs the ``testing`` extra (Starlette); minting tokens needs nothing more."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def discovery(_: Request) -> Response:
            self.discovery_requests += 1
            return JSONResponse(self.discovery_document())

        async def jwks(_: Request) -> Response:
            self.jwks_requests += 1
            return JSONResponse(self.jwks(), headers={"Cache-Control": self.cache_control})

        async def token(request: Request) -> Response:
            parameters = dict(request.query_params)
            if request.method == "POST":  # a form (parsed here: no multipart library needed)
                parameters.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
            try:
                access_token = self.token_for(parameters)
            except ValueError as exc:
                return JSONResponse(
                    {"error": "invalid_request", "error_description": str(exc)}, status_code=400
                )
            return JSONResponse(
                {"access_token": access_token, "token_type": "Bearer", "expires_in": 300},
                headers={"Cache-Control": "no-store"},
            )

        path = self.issuer.split("/", 3)[3] if self.issuer.count("/") >= 3 else ""
        prefix = f"/{path}" if path else ""
        return Starlette(
            routes=[
                Route(f"{prefix}/.well-known/openid-configuration", discovery),
                Route(f"{prefix}/protocol/openid-connect/certs", jwks),
                Route(f"{prefix}/token", token, methods=["GET", "POST"]),
            ]
        )


@contextlib.contextmanager
def serve(app: Callable[..., Any], *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI application with uvicorn (lifespan included) from a background
    thread, for as long as the block lasts; gives its base URL. With ``port`` 0 the
    system picks a free one. Needs the ``testing`` extra.

    Raises:
        RuntimeError: the server did not start within ten seconds (its lifespan failed).
    """
    with _listening(host, port) as sock, _serving(app, sock):
        yield _base_url(sock)


@contextlib.contextmanager
def served_issuer(
    realm: str = "test", *, audience: str = "todo-api", host: str = "127.0.0.1", port: int = 0
) -> Iterator[TestIssuer]:
    """A ``TestIssuer`` over real HTTP on loopback (discovery, JWKS, ``/token``), its
    ``issuer`` the served URL (``http://127.0.0.1:<port>/realms/<realm>``). Needs the
    ``testing`` extra."""
    with _listening(host, port) as sock:
        issuer = TestIssuer(f"{_base_url(sock)}/realms/{realm}", audience=audience)
        with _serving(issuer.asgi_app(), sock):
            yield issuer


@contextlib.contextmanager
def _listening(host: str, port: int) -> Iterator[socket.socket]:
    # Bound before the server starts, so an application can be built knowing its URL.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        yield sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def _serving(app: Callable[..., Any], sock: socket.socket) -> Iterator[None]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    def run() -> None:
        # uvicorn listens for signals only in the main thread: this one leaves them
        # alone. A failed start-up ends it with SystemExit, reported below.
        with contextlib.suppress(SystemExit):
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name="auth.testing", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server for {app!r} did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    """Serve a test issuer on loopback and print how to use it with the API."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--audience", default="todo-api")
    args = parser.parse_args()
    issuer = TestIssuer(f"http://127.0.0.1:{args.port}/realms/dev", audience=args.audience)
    print(f"OIDC_ISSUER_URI={issuer.issuer} OIDC_AUDIENCE={issuer.audience}")
    print(f"get a token: curl '{issuer.issuer}/token?sub=alice&scope=todo:read&roles=todo-user'")
    uvicorn.run(issuer.asgi_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
