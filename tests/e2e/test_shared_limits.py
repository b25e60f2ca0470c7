"""The whole stack as operators run it: gateway replicas sharing Redis and PostgreSQL, API keys,
limits, the usage ledger; and Redis, then PostgreSQL, going away under load."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.settings import load_settings
from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings
from flightdeck.limits.estimate import estimate_chat_tokens
from flightdeck.limits.policy import PolicyStore
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from flightdeck.testing import Behaviour, FakeUpstream
from flightdeck.testing.server import ServerThread, free_port
from tests.tenancy_support.services import REDIS_URL, delete_keys, pg_url, require
from tests.tenancy_support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
BODY = {
    "model": "m",
    "messages": [{"role": "user", "content": "tell me about the sky over the sea"}],
    "max_tokens": 40,
}


async def prepare(url: str, tenant: str, rule: LimitRule) -> str:
    """A tenant with limits and a member key on the shared store; returns the key."""
    store = Store(url)
    try:
        await store.migrate()
        await TenantStore(store).create(tenant)
        await PolicyStore(store, LimitsSettings()).set(tenant, rule)
        _, key = await KeyStore(store).create("load", role=Role.MEMBER, tenant=tenant)
        return key
    finally:
        await store.close()


async def ledger_count(url: str, tenant: str) -> int:
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            query = select(func.count()).where(UsageRow.tenant == tenant)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await store.close()


async def chat(session: aiohttp.ClientSession, url: str, key: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(url + "/v1/chat/completions", json=BODY, headers=headers) as resp:
        data = await resp.json()
        return resp.status, {"headers": dict(resp.headers), "body": data}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(Behaviour(latency=0.2)) as fake:
        yield fake


def write_config(
    path: Path, home: Path, store_url: str, redis_url: str, prefix: str, upstream_url: str
) -> Path:
    path.write_text(
        f"""
home = "{home}"
[store]
url = "{store_url}"
[limits]
backend = "redis"
redis_url = "{redis_url}"
key_prefix = "{prefix}"
redis_timeout_seconds = 5.0
[ledger]
flush_interval_seconds = 0.2
[[models]]
name = "m"
base_url = "{upstream_url}"
"""
    )
    return path


@pytest.fixture
def replicas(tmp_path: Path, pg_database: str, upstream: FakeUpstream) -> Iterator[list[str]]:
    require("127.0.0.1", 6379, "Redis")
    prefix = f"fdtest:{uuid.uuid4().hex[:8]}:"
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    for n in range(2):
        port = free_port()
        cfg = write_config(
            tmp_path / f"r{n}.toml",
            tmp_path / f"home{n}",
            pg_url(pg_database),
            REDIS_URL,
            prefix,
            upstream.base_url,
        )
        log = (tmp_path / f"r{n}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flightdeck",
                    "serve",
                    "--config",
                    str(cfg),
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        for url in urls:
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError((tmp_path / "r0.log").read_text()) from None
                    time.sleep(0.2)
        yield urls
    finally:  # also when start-up failed: never leave a replica behind
        for p in procs:
            p.send_signal(signal.SIGINT)  # graceful: the ledger is flushed on the way out
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        asyncio.run(delete_keys(prefix))


async def test_two_replicas_keep_a_tenants_tokens_per_minute(
    replicas: list[str], pg_database: str
) -> None:
    prompt, most_output = estimate_chat_tokens(BODY)
    reservation = prompt + most_output
    limit = 30 * reservation + reservation // 2
    tenant = f"t{uuid.uuid4().hex[:8]}"
    key = await prepare(pg_url(pg_database), tenant, LimitRule(tokens_per_minute=limit))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.gather(*(chat(session, replicas[i % 2], key) for i in range(200)))
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 429}, statuses
    ok = [r for s, r in results if s == 200]
    used = sum(r["body"]["usage"]["total_tokens"] for r in ok)
    assert 0 < used <= limit + reservation
    assert statuses[429] > 0
    limited = next(r for s, r in results if s == 429)
    assert int(limited["headers"]["Retry-After"]) >= 1
    assert limited["headers"]["x-ratelimit-limit-tokens"] == str(limit)
    assert "tokens per minute" in limited["body"]["error"]["message"]
    served_by = Counter(r["headers"].get("x-ratelimit-limit-tokens") for r in ok)
    assert served_by == {str(limit): len(ok)}
    for _ in range(100):  # the ledger writes within its flush interval
        if await ledger_count(pg_url(pg_database), tenant) >= 200:
            break
        await asyncio.sleep(0.1)
    assert await ledger_count(pg_url(pg_database), tenant) == 200  # refusals are recorded too


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


async def test_redis_then_postgresql_outage_under_load_loses_nothing(
    tmp_path: Path, pg_database: str, upstream: FakeUpstream
) -> None:
    require("127.0.0.1", 6379, "Redis")
    upstream.behaviour.latency = 0.01
    tenant = f"t{uuid.uuid4().hex[:8]}"
    prefix = f"fdtest:{uuid.uuid4().hex[:8]}:"
    direct = pg_url(pg_database)
    key = await prepare(direct, tenant, LimitRule(requests_per_minute=100_000))
    with TcpProxy("127.0.0.1", 6379) as redis_proxy, TcpProxy("127.0.0.1", 5432) as pg_proxy:
        settings = load_settings(
            None,
            {},
            defaults={
                "home": str(tmp_path / "home"),
                "server": {"port": 0},
                "store": {"url": pg_url(pg_database, port=pg_proxy.port)},
                "auth": {"key_cache_seconds": 0.3},
                "limits": {
                    "backend": "redis",
                    "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
                    "key_prefix": prefix,
                    "probe_seconds": 0.2,
                    "policy_cache_seconds": 0.3,
                },
                "ledger": {"flush_interval_seconds": 0.1},
                "models": [{"name": "m", "base_url": upstream.base_url}],
            },
        )
        statuses: Counter[int] = Counter()
        stop = asyncio.Event()

        async def load(server_url: str) -> None:
            async with aiohttp.ClientSession() as session:
                while not stop.is_set():
                    status, _ = await chat(session, server_url, key)
                    statuses[status] += 1

        server = await asyncio.to_thread(lambda: ServerThread(settings).__enter__())
        try:
            workers = [asyncio.create_task(load(server.url)) for _ in range(8)]
            phases = [
                ("warm", lambda: None),
                ("redis down", redis_proxy.cut),
                ("postgres down too", pg_proxy.cut),
                ("redis back", redis_proxy.restore),
                ("postgres back", pg_proxy.restore),
            ]
            seen, readiness = {}, {}
            for name, action in phases:
                await asyncio.to_thread(action)
                await asyncio.sleep(1.5)
                seen[name] = sum(statuses.values())
                status, body = await asyncio.to_thread(get_json, server.url + "/readyz")
                readiness[name] = (status, body["status"], body["checks"]["store"])
            stop.set()
            await asyncio.gather(*workers)
            for _ in range(100):
                if await ledger_count(direct, tenant) >= statuses[200]:
                    break
                await asyncio.sleep(0.1)
            for _ in range(100):
                status, body = await asyncio.to_thread(get_json, server.url + "/readyz")
                recovered = (status, body["status"])
                if recovered == (200, "ready"):
                    break
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(server.__exit__, None, None, None)
            await delete_keys(prefix)
        assert set(statuses) == {200}, statuses  # no 5xx, no 429: outages were absorbed
        counts = list(seen.values())
        assert all(b > a for a, b in itertools.pairwise(counts)), seen  # served in every phase
        assert await ledger_count(direct, tenant) == statuses[200]  # and nothing lost
        # Shared outages keep every replica in the load balancer, saying what is degraded.
        assert readiness == {
            "warm": (200, "ready", "ok"),
            "redis down": (200, "degraded", "ok"),
            "postgres down too": (200, "degraded", "unreachable"),
            "redis back": (200, "degraded", "unreachable"),
            "postgres back": (200, readiness["postgres back"][1], "ok"),
        }
        assert recovered == (200, "ready")  # the spooled backlog written, limits shared again
