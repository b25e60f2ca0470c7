"""The admin API on a real HTTP server: tenants acme and globex, a key per caller, some usage."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from tests.auth.jwks_issuer import LocalIssuer, rsa_key
from tests.tenancy_support.app_server import AppServer

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import load_settings
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.server.admin import admin_mount
from flightdeck.store.database import Store

DAY = datetime(2026, 11, 10, 12, tzinfo=UTC)


@dataclass
class Admin:
    url: str
    keys: dict[str, str]  # caller name -> API key
    key_ids: dict[str, int]
    issuer: LocalIssuer
    store_url: str

    async def call(
        self,
        method: str,
        path: str,
        caller: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if caller is not None:
            hdrs["Authorization"] = f"Bearer {self.keys[caller]}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=hdrs) as resp,
        ):
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data


@contextlib.asynccontextmanager
async def admin_server(tmp_path: Path, store_url: str | None = None) -> AsyncIterator[Admin]:
    """``/admin`` on a loopback port over a fresh store (SQLite in tmp_path unless given)."""
    issuer = await LocalIssuer([rsa_key("k1")]).start()
    settings = load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path),
            "store": {"url": store_url},
            "auth": {
                "key_cache_seconds": 0,
                "oauth": {
                    "issuers": [
                        {
                            "issuer": issuer.issuer,
                            "jwks_url": issuer.jwks_url,
                            "audience": "flightdeck",
                            "algorithms": ["RS256"],
                        }
                    ]
                },
            },
        },
    )
    store = Store(settings.store_url)
    await store.migrate()
    for name in ("acme", "globex"):
        await TenantStore(store).create(name)
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    for caller, tenant, role in [
        ("platform", "default", Role.ADMIN),
        ("acme_admin", "acme", Role.ADMIN),
        ("acme_member", "acme", Role.MEMBER),
        ("acme_viewer", "acme", Role.VIEWER),
        ("globex_admin", "globex", Role.ADMIN),
    ]:
        record, key = await KeyStore(store).create(caller, role=role, tenant=tenant)
        keys[caller], ids[caller] = key, record.id
    writer = LedgerWriter(store.engine, Spool(tmp_path / "spool"))
    await writer.start()
    for tenant, key_id, cost in [("acme", ids["acme_member"], 1.5), ("globex", 99, 7.0)]:
        for i in range(3):
            ts = DAY + timedelta(days=i)
            writer.record(
                UsageRecord(
                    tenant=tenant, model_group="gpt", status=200, key_id=key_id, cost=cost, ts=ts
                )
            )
    await writer.close()
    await store.close()

    store = Store(settings.store_url)
    app = Starlette(routes=[admin_mount(settings, store, KeyStore(store))])
    try:
        with AppServer(app) as server:
            yield Admin(server.url + "/admin", keys, ids, issuer, settings.store_url)
    finally:
        await store.close()
        await issuer.stop()


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    async with admin_server(tmp_path) as served:
        yield served
