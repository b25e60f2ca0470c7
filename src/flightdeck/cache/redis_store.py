"""The Redis cache backend: entries shared by every replica, expired by Redis itself (``PX``).

An outage degrades to misses, never to errors: every call has a short deadline, and after a
failure Redis is left alone for ``probe_seconds`` (reads miss and writes are dropped at once,
without waiting for a timeout per request), then tried again by the next request. A purge is
the exception: it raises CacheUnavailable, because a purge that silently did nothing would
leave a tenant's data behind.

Keys: ``{prefix}{sha256(tenant)[:16]}:{sha256(group)[:16]}:{request hash}`` (see
``EntryKey.redis_key``). The size of the Redis cache is Redis's ``maxmemory`` (with an
``allkeys-lru`` or ``volatile-lru`` policy); ``group_max_bytes`` only refuses single entries
larger than it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from flightdeck.cache.backend import EntryKey, scope_prefix
from flightdeck.cache.errors import CacheUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
PURGE_BATCH = 500


def connect(url: str, timeout: float) -> Redis:
    """A client that fails fast: no retries, ``timeout`` on connect and on every call."""
    pool = ConnectionPool.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return Redis(connection_pool=pool)


class RedisBackend:
    """Cache entries in Redis under ``prefix``; ``timeout`` bounds each call in seconds."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "fd:cache:",
        timeout: float = 0.25,
        probe_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.probe_seconds = probe_seconds
        self.clock = clock
        self.down_until = 0.0
        self.failures = 0

    async def get(self, key: EntryKey) -> bytes | None:
        value = await self._call(lambda: self.client.get(key.redis_key(self.prefix)))
        return value if isinstance(value, bytes) else None

    async def set(self, key: EntryKey, value: bytes, *, ttl: float, group_max_bytes: int) -> bool:
        if len(value) > group_max_bytes:
            return False
        ms = max(1, int(ttl * 1000))
        done = await self._call(lambda: self.client.set(key.redis_key(self.prefix), value, px=ms))
        return bool(done)

    async def delete(self, key: EntryKey) -> None:
        await self._call(lambda: self.client.delete(key.redis_key(self.prefix)))

    async def purge(self, tenant: str, model_group: str | None = None) -> int:
        pattern = _escape_glob(scope_prefix(self.prefix, tenant, model_group)) + "*"
        count = 0
        batch: list[bytes] = []
        try:
            async for name in self.client.scan_iter(match=pattern, count=PURGE_BATCH):
                batch.append(name)
                if len(batch) >= PURGE_BATCH:
                    count += int(await self.client.unlink(*batch))
                    batch = []
            if batch:
                count += int(await self.client.unlink(*batch))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"cache store unreachable, nothing purged: {exc}") from None
        return count

    async def close(self) -> None:
        await self.client.aclose()

    def health(self) -> dict[str, object]:
        state = "degraded" if self.clock() < self.down_until else "ok"
        return {"state": state, "backend": "redis", "failures": self.failures}

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run one Redis call within the deadline; None when Redis is (or just went) away."""
        if self.clock() < self.down_until:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.failures += 1
            self.down_until = self.clock() + self.probe_seconds
            # The error names the host, never the key or the entry (they derive from prompts).
            log.warning("cache store unreachable (%s); serving misses", type(exc).__name__)
            return None


def _escape_glob(text: str) -> str:
    """``text`` matched literally in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
