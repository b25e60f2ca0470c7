"""A service account's key through the official openai SDK: the ledger names the account."""

from __future__ import annotations

import asyncio

import openai
import pytest
from sqlalchemy import select

from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread
from tests.conftest import MakeSettings, http


async def usage_rows(settings: Settings) -> list[UsageRow]:
    store = Store(settings.store_url)
    try:
        async with store.session() as session:
            return list((await session.scalars(select(UsageRow).order_by(UsageRow.id))).all())
    finally:
        await store.close()


def admin_post(server: ServerThread, path: str, body: str) -> dict[str, object]:
    status, _, reply = http(
        "POST",
        server.url + "/admin" + path,
        body.encode(),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    assert status == 201, reply
    return dict(reply)


def test_service_account_requests_are_recorded_as_the_account(
    upstream: FakeUpstream, make_settings: MakeSettings
) -> None:
    settings = make_settings([{"name": "chat", "base_url": upstream.base_url, "model": "gpt-4o"}])
    with ServerThread(settings) as server:
        admin_post(server, "/tenants", '{"name": "acme"}')
        admin_post(server, "/service-accounts", '{"name": "nightly-ci", "tenant": "acme"}')
        robot = admin_post(
            server, "/keys", '{"name": "ci-1", "tenant": "acme", "service_account": "nightly-ci"}'
        )
        person = admin_post(server, "/keys", '{"name": "laptop", "tenant": "acme"}')
        for created in (robot, person):
            client = openai.OpenAI(
                base_url=server.url + "/v1", api_key=str(created["key"]), max_retries=0
            )
            reply = client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hello"}]
            )
            assert reply.choices[0].message.content == "echo: hello"
    rows = asyncio.run(usage_rows(settings))  # the server flushed its ledger on the way out
    assert [(r.tenant, r.key_id, r.user, r.status) for r in rows] == [
        ("acme", robot["id"], "service:nightly-ci", 200),
        ("acme", person["id"], None, 200),
    ]


def patch(server: ServerThread, path: str, body: str) -> int:
    status, _, _ = http(
        "PATCH",
        server.url + "/admin" + path,
        body.encode(),
        {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    return status


def test_a_service_accounts_role_caps_its_keys_and_viewers_cannot_call_models(
    upstream: FakeUpstream, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        [{"name": "chat", "base_url": upstream.base_url}], auth={"key_cache_seconds": 0}
    )
    with ServerThread(settings) as server:
        admin_post(server, "/tenants", '{"name": "acme"}')
        robot = admin_post(server, "/service-accounts", '{"name": "ci", "tenant": "acme"}')
        key = admin_post(
            server, "/keys", '{"name": "ci-1", "tenant": "acme", "service_account": "ci"}'
        )
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=str(key["key"]), max_retries=0)
        hello = [{"role": "user", "content": "hello"}]
        assert client.chat.completions.create(model="chat", messages=hello).choices  # member

        assert patch(server, f"/service-accounts/{robot['id']}", '{"role": "viewer"}') == 200
        with pytest.raises(openai.PermissionDeniedError, match="cannot call models"):
            client.chat.completions.create(model="chat", messages=hello)
        with pytest.raises(openai.PermissionDeniedError):
            client.embeddings.create(model="chat", input="hello")
        assert [m.id for m in client.models.list()] == ["chat"]  # looking is still allowed

        assert patch(server, f"/service-accounts/{robot['id']}", '{"role": "admin"}') == 200
        assert client.chat.completions.create(model="chat", messages=hello).choices
