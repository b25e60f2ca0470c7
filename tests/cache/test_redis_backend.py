"""The Redis backend against the real local Redis: shared entries, TTL, outage, purge."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from flightdeck.cache import CacheUnavailable, EntryKey, RedisBackend
from flightdeck.cache.redis_store import connect
from tests.cache.conftest import FakeClock
from tests.tenancy_support.services import REDIS_URL
from tests.tenancy_support.tcp_proxy import TcpProxy

KEY = EntryKey("tenant-a", "gpt", "ab" * 32)
BIG = 1 << 30


def backend(prefix: str, url: str = REDIS_URL, **kw: float) -> RedisBackend:
    return RedisBackend(connect(url, 0.5), prefix=prefix, timeout=0.5, **kw)  # type: ignore[arg-type]


async def test_an_entry_written_by_one_replica_is_read_by_another(redis_prefix: str) -> None:
    one, two = backend(redis_prefix), backend(redis_prefix)
    try:
        assert await one.set(KEY, b"answer", ttl=60, group_max_bytes=BIG)
        assert await two.get(KEY) == b"answer"
        assert await two.get(EntryKey("tenant-b", "gpt", KEY.digest)) is None
        assert await two.get(EntryKey("tenant-a", "other", KEY.digest)) is None
    finally:
        await one.close()
        await two.close()


async def test_redis_expires_entries_with_their_ttl(redis_prefix: str) -> None:
    store = backend(redis_prefix)
    try:
        await store.set(KEY, b"answer", ttl=30, group_max_bytes=BIG)
        client = Redis.from_url(REDIS_URL)
        ttl_ms = await client.pttl(KEY.redis_key(redis_prefix))
        await client.aclose()
        assert 0 < ttl_ms <= 30_000
    finally:
        await store.close()


async def test_purge_deletes_only_the_tenants_keys(redis_prefix: str) -> None:
    store = backend(redis_prefix)
    try:
        keys = [
            EntryKey(t, g, f"{n:064x}") for t in ("a", "b") for g in ("g1", "g2") for n in (1, 2)
        ]
        for k in keys:
            await store.set(k, b"v", ttl=60, group_max_bytes=BIG)
        assert await store.purge("a", "g1") == 2
        assert await store.purge("a") == 2
        left = [k for k in keys if await store.get(k) is not None]
        assert left == [k for k in keys if k.tenant == "b"]
    finally:
        await store.close()


async def test_names_with_glob_characters_purge_only_themselves(redis_prefix: str) -> None:
    store = backend(redis_prefix)
    try:
        await store.set(EntryKey("a*", "g", "1" * 64), b"v", ttl=60, group_max_bytes=BIG)
        await store.set(EntryKey("ab", "g", "1" * 64), b"v", ttl=60, group_max_bytes=BIG)
        assert await store.purge("a*") == 1
        assert await store.get(EntryKey("ab", "g", "1" * 64)) == b"v"
    finally:
        await store.close()


async def test_an_outage_during_traffic_reads_as_misses_then_recovers(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    with TcpProxy("127.0.0.1", 6379) as proxy:
        store = backend(
            redis_prefix, f"redis://127.0.0.1:{proxy.port}/0", probe_seconds=5, clock=clock
        )  # type: ignore[arg-type]
        try:
            assert await store.set(KEY, b"answer", ttl=60, group_max_bytes=BIG)
            proxy.cut()
            with caplog.at_level(logging.WARNING):
                assert await store.get(KEY) is None
                assert not await store.set(KEY, b"new", ttl=60, group_max_bytes=BIG)
            assert store.health()["state"] == "degraded"
            assert KEY.digest not in caplog.text and redis_prefix not in caplog.text
            with pytest.raises(CacheUnavailable):
                await store.purge("tenant-a")
            proxy.restore()
            assert await store.get(KEY) is None  # still resting until the probe time
            clock.advance(5)
            assert await store.get(KEY) == b"answer"
            assert store.health()["state"] == "ok"
        finally:
            await store.close()


async def test_an_unreachable_redis_is_a_miss_within_the_deadline() -> None:
    store = RedisBackend(connect("redis://127.0.0.1:1/0", 0.2), prefix="x:", timeout=0.2)
    try:
        assert await store.get(KEY) is None
        assert not await store.set(KEY, b"v", ttl=1, group_max_bytes=BIG)
    finally:
        await store.close()
