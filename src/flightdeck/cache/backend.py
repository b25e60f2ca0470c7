"""What a cache backend is: bytes under a key scoped by tenant and model group, with a TTL.

Two implementations: ``MemoryBackend`` (this process, LRU bounded in bytes; the embedded
default) and ``RedisBackend`` (shared by replicas; an outage reads as misses). Both delete a
tenant's entries, or one model group's, on ``purge``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EntryKey:
    """Where an entry lives: its tenant, its model group and the request hash."""

    tenant: str
    model_group: str
    digest: str

    def redis_key(self, prefix: str) -> str:
        """``{prefix}{tenant hash}:{group hash}:{digest}``: hashed scope names keep the key
        free of glob characters, so ``purge`` can match a tenant's or a group's keys."""
        return f"{scope_prefix(prefix, self.tenant, self.model_group)}{self.digest}"


def name_hash(name: str) -> str:
    """16 hex characters of SHA-256: short, and safe in a Redis key pattern."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def scope_prefix(prefix: str, tenant: str, model_group: str | None = None) -> str:
    """The common start of every key of ``tenant`` (and of ``model_group`` when given)."""
    start = f"{prefix}{name_hash(tenant)}:"
    return start if model_group is None else f"{start}{name_hash(model_group)}:"


class CacheBackend(Protocol):
    """Storage of serialized entries. Reads never raise for an outage: they miss."""

    async def get(self, key: EntryKey) -> bytes | None:
        """The stored bytes, or None (absent, expired, or the store is unreachable)."""
        ...

    async def set(self, key: EntryKey, value: bytes, *, ttl: float, group_max_bytes: int) -> bool:
        """Store ``value`` for ``ttl`` seconds; False when it was not stored (too large for
        ``group_max_bytes``, or the store is unreachable)."""
        ...

    async def delete(self, key: EntryKey) -> None: ...

    async def purge(self, tenant: str, model_group: str | None = None) -> int:
        """Delete the tenant's entries (of one model group if given); returns how many.
        Raises CacheUnavailable when the store cannot be reached: a purge must not pass
        silently."""
        ...

    async def close(self) -> None: ...

    def health(self) -> dict[str, object]: ...
