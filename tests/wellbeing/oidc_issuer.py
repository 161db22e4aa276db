"""A small, real OpenID Connect provider for the tests, served by http.server on 127.0.0.1.

It publishes a discovery document and a JWKS with an RSA key generated here (``cryptography``),
"signs in" whoever ``user`` describes at its authorization endpoint (redirecting back with a
code and the state), and at its token endpoint checks the client's credentials, the code, the
redirect URI and the PKCE verifier before issuing an access token and an RS256 ID token with
the request's nonce. UserInfo answers for the access token. ``id_token_changes`` lets a test
make the ID token wrong (issuer, audience, nonce, expiry, signature key) to see it refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wellbeing.actions import AuditContext
from wellbeing.identity_providers import ProviderSettings, configure_identity_provider
from wellbeing.models import IdentityProvider, IdentityProviderKind, Organization

CLIENT_ID = "wellbeing-test-client"
CLIENT_SECRET = "test-client-secret-0123456789"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass
class SigningKey:
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    user: dict[str, Any]


@dataclass
class LocalIssuer:
    """The provider's state; ``url`` is set once its server listens."""

    url: str = ""
    user: dict[str, Any] = field(default_factory=dict)
    id_token_changes: dict[str, Any] = field(default_factory=dict)
    email_in_id_token: bool = True
    sign_with_unpublished_key: bool = False
    key: SigningKey = field(default_factory=SigningKey)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests_seen: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Sign ``user`` in at once and redirect back with a code (or an error)."""
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}, "unknown client or response type"
        if "openid" not in query.get("scope", "").split():
            return 400, {}, "not an OpenID Connect request"
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            client_id=CLIENT_ID,
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            code_challenge=query.get("code_challenge", ""),
            user=dict(self.user),
        )
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": back}, ""

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        if (
            authorization
            != "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        ):
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant.user
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300}
        claims["nonce"] = grant.nonce
        user = grant.user if self.email_in_id_token else {"sub": grant.user["sub"]}
        claims.update(user)
        claims.update(self.id_token_changes)
        key = SigningKey(kid=self.key.kid) if self.sign_with_unpublished_key else self.key
        return key.sign(claims)

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        user = self.access_tokens.get(authorization.removeprefix("Bearer "))
        return (200, user) if user is not None else (401, {"error": "invalid_token"})


def _handler(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            issuer.requests_seen.append(self.path.split("?")[0])

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            kind = "text/plain" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, issuer.discovery())
            elif parts.path == "/jwks":
                self._send(200, {"keys": [issuer.key.jwk()]})
            elif parts.path == "/authorize":
                status, headers, body = issuer.authorize(query)
                self._send(status, body, headers)
            elif parts.path == "/userinfo":
                self._send(*issuer.userinfo(self.headers.get("Authorization", "")))
            else:
                self._send(404, "not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._send(*issuer.token(form, self.headers.get("Authorization", "")))
            else:
                self._send(404, "not found")

    return Handler


@contextmanager
def running_issuer() -> Iterator[LocalIssuer]:
    """A LocalIssuer listening on 127.0.0.1 (a free port) in a thread, for the ``with`` block."""
    issuer = LocalIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def configure_for(school: Organization, issuer: LocalIssuer, **changes: Any) -> IdentityProvider:
    """``school`` signs its staff in through ``issuer`` (a generic provider, secret stored)."""
    fields: dict[str, Any] = {
        "kind": IdentityProviderKind.GENERIC,
        "issuer": issuer.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "display_name": "Northside Accounts",
    }
    given = ProviderSettings(**{**fields, **changes})
    return configure_identity_provider(AuditContext.system(school), school, given)
