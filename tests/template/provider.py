"""A stand-in for a cloud identity provider: its exact issuer, over HTTPS on loopback.

A generated service's ``.env`` names an issuer such as ``https://example.eu.auth0.com/``.
The stand-in serves that issuer's discovery document and keys from a loopback port, over
TLS with a certificate of its own test authority, so the service runs with its ``.env``
unchanged but for where discovery is fetched (``OIDC_DISCOVERY_URI``) and which authority
it trusts (``SSL_CERT_FILE``): an https issuer's keys must come over https.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.testing import TestIssuer, sign_compact
from tests.services import free_port, wait_until

LOOPBACK = "127.0.0.1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test authority and a certificate for 127.0.0.1 it signed: the authority's
    certificate (for ``SSL_CERT_FILE``), the server's certificate and its key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("template tests authority")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(LOOPBACK))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread owns signals
        return None


@dataclass
class StandInProvider:
    """Discovery and keys of ``issuer``, served from ``base_url``; tokens signed by them."""

    issuer: str
    base_url: str
    #: The test authority's certificate: the service trusts it through SSL_CERT_FILE.
    authority: Path
    signer: TestIssuer

    @property
    def discovery_uri(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def token(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """A token of this issuer with exactly ``claims`` (and ``iss``), header ``typ``."""
        kid = self.signer.current_kid["RS256"]
        _, key = self.signer.keys[kid]
        header = {"typ": typ, "alg": "RS256", "kid": kid}
        return sign_compact(header, {"iss": self.issuer, **claims}, key, "RS256")


@contextlib.contextmanager
def stand_in_provider(issuer: str, directory: Path) -> Iterator[StandInProvider]:
    """Serve ``issuer``'s discovery and JWKS over HTTPS on a free loopback port."""
    authority, certificate, key = write_certificates(directory)
    port = free_port()
    provider = StandInProvider(issuer, f"https://{LOOPBACK}:{port}", authority, TestIssuer())

    async def discovery(_: Request) -> Response:
        return JSONResponse({"issuer": issuer, "jwks_uri": f"{provider.base_url}/keys"})

    async def keys(_: Request) -> Response:
        return JSONResponse(provider.signer.jwks())

    app = Starlette(
        routes=[Route("/.well-known/openid-configuration", discovery), Route("/keys", keys)]
    )
    server = _ThreadedServer(
        uvicorn.Config(
            app,
            host=LOOPBACK,
            port=port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(certificate),
            ssl_keyfile=str(key),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the stand-in identity provider")
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(10)
