"""OAuth users (RFC 9068 tokens, no API key) use the assistant; conversations are theirs alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import load_settings
from flightdeck.server.app import create_app
from flightdeck.store.database import Store
from tests.auth.jwks_issuer import LocalIssuer, rsa_key
from tests.tenancy_support.app_server import AppServer

PAGE = {
    "url": "https://moon.test/",
    "title": "Moon",
    "text": "The Moon orbits the Earth at 384,400 km.",
}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, LocalIssuer, str]]:
    issuer = await LocalIssuer([rsa_key("k1")]).start()
    oauth = {
        "issuers": [
            {
                "issuer": issuer.issuer,
                "jwks_url": issuer.jwks_url,
                "audience": "flightdeck",
                "algorithms": ["RS256"],
            }
        ]
    }
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path),
            "auth": {"oauth": oauth},
            "models": [{"name": "local/extractive", "provider": "local-extractive"}],
            "assistant": {"embeddings": False},
        },
    )
    store = Store(settings.store_url)
    await store.migrate()
    await TenantStore(store).create("acme")
    _, key = await KeyStore(store).create("acme bot", role=Role.MEMBER, tenant="acme")
    await store.close()
    with AppServer(create_app(settings)) as server:
        yield server.url, issuer, key
    await issuer.stop()


async def call(url: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_conversations_belong_to_the_oauth_user(served: tuple[str, LocalIssuer, str]) -> None:
    url, issuer, key = served
    alice, bob = issuer.token(sub="alice"), issuer.token(sub="bob")
    body = {
        "model": "local/extractive",
        "question": "How far is the Moon?",
        "pages": [PAGE],
        "stream": False,
    }
    status, reply = await call(url, "POST", "/v1/assistant/chat", alice, body)
    assert status == 200, reply
    assert "384,400 km" in reply["answer"]
    conversation = reply["conversation_id"]

    status, listed = await call(url, "GET", "/v1/assistant/conversations", alice)
    assert status == 200 and [c["id"] for c in listed["data"]] == [conversation]
    for other in (bob, key):  # another user of the tenant, and an API key of the tenant
        status, listed = await call(url, "GET", "/v1/assistant/conversations", other)
        assert status == 200 and listed["data"] == []
        status, _ = await call(url, "GET", f"/v1/assistant/conversations/{conversation}", other)
        assert status == 404
    status, _ = await call(url, "DELETE", f"/v1/assistant/conversations/{conversation}", alice)
    assert status in (200, 204)


async def test_a_bad_token_is_401(served: tuple[str, LocalIssuer, str]) -> None:
    url, issuer, _ = served
    expired = issuer.token(exp=1)
    status, body = await call(url, "GET", "/v1/assistant/conversations", expired)
    assert status == 401 and body["error"]["type"] == "authentication_error"
