"""The extension signs in with OAuth (authorization code + PKCE through chrome.identity) against
a local authorization server, then answers with the access token instead of an API key."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from flightdeck.core.settings import Settings
from flightdeck.testing.server import ServerThread
from tests.auth.jwks_issuer import SigningKey, rsa_key
from tests.e2e.test_extension import extension_context, test_page  # noqa: F401 - fixtures

CLIENT_ID = "flightdeck-extension"


@dataclass
class AuthorizationServer:
    """Authorize (redirects back with a code), token (checks the PKCE verifier), JWKS."""

    key: SigningKey = field(default_factory=lambda: rsa_key("as-1"))
    port: int = 0
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def access_token(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "flightdeck",
            "sub": subject,
            "client_id": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            "tid": "default",
            "roles": ["member"],
        }
        headers = {"typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(claims, self.key.private, algorithm=self.key.alg, headers=headers)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/jwks.json":
                    return self.reply(200, {"keys": [server.key.public_jwk()]})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                assert url.path == "/authorize" and query["code_challenge_method"] == "S256"
                code = secrets.token_urlsafe(16)
                server.codes[code] = query
                back = (
                    query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
                )
                return self.reply(302, {}, {"Location": back})

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                server.token_requests.append(form)
                grant = server.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                if (
                    grant is None
                    or challenge.rstrip(b"=").decode() != grant["code_challenge"]
                    or form.get("redirect_uri") != grant["redirect_uri"]
                    or form.get("client_id") != CLIENT_ID
                ):
                    return self.reply(400, {"error": "invalid_grant"})
                token = server.access_token("reader@example.com")
                return self.reply(
                    200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}
                )

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def authorization_server() -> Iterator[AuthorizationServer]:
    server = AuthorizationServer()
    http = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
    server.port = http.server_address[1]
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield server
    http.shutdown()


@pytest.fixture
def server(
    authorization_server: AuthorizationServer,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
) -> ServerThread:
    """Flightdeck trusting the local authorization server's tokens (started before Chromium)."""
    auth = authorization_server
    issuer = {
        "issuer": auth.issuer,
        "jwks_url": auth.issuer + "jwks.json",
        "audience": "flightdeck",
        "algorithms": ["RS256"],
    }
    settings = make_settings(
        [{"name": "local/extractive", "provider": "local-extractive"}],
        assistant={"embeddings": False},
        auth={"oauth": {"issuers": [issuer]}},
    )
    return serve(settings)


def test_extension_signs_in_with_pkce_and_answers_with_the_token(
    authorization_server: AuthorizationServer,
    server: ServerThread,
    test_page: str,  # noqa: F811
    extension_context: Any,  # noqa: F811
) -> None:
    auth = authorization_server
    context = extension_context
    worker = (
        context.service_workers[0]
        if context.service_workers
        else context.wait_for_event("serviceworker", timeout=15_000)
    )
    extension_id = worker.url.split("/")[2]
    tab = context.new_page()
    tab.goto(test_page)
    panel = context.new_page()
    panel.goto(f"chrome-extension://{extension_id}/sidepanel.html")
    panel.fill("#server-url", server.url)
    panel.fill("#api-key", "")
    panel.fill("#oauth-authorize", auth.issuer + "authorize")
    panel.fill("#oauth-token", auth.issuer + "token")
    panel.fill("#oauth-client", CLIENT_ID)
    panel.click("#save")
    panel.click("#oauth-login")
    panel.wait_for_selector("#oauth-status:has-text('Signed in.')", timeout=20_000)
    [grant] = auth.token_requests
    assert grant["grant_type"] == "authorization_code" and len(grant["code_verifier"]) >= 43
    panel.fill("#question", "Where do sea otters live?")
    panel.click("#ask-button")
    panel.wait_for_selector("#status:has-text('Done.')", timeout=30_000)
    assert "northern Pacific" in panel.inner_text("#answer")
