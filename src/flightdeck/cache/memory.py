"""The in-process cache backend: an LRU bounded in bytes, in total and per model group.

One ordered dict keeps the least recently used entry first; a second one per model group does
the same within the group, so a group over its own cap evicts its own oldest entry, and a cache
over the total cap evicts the oldest entry of any group. Expired entries are dropped when read
and when they reach the front of the LRU.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from flightdeck.cache.backend import EntryKey

# What one entry costs beyond its bytes (key, dict slots, the record): an estimate that keeps
# the byte cap honest for many small entries.
ENTRY_OVERHEAD = 200


@dataclass(slots=True)
class _Stored:
    value: bytes
    expires_at: float
    size: int


class MemoryBackend:
    """Entries of this process. ``max_bytes`` caps all entries together (0: nothing is kept);
    ``clock`` is ``time.monotonic`` unless a test passes its own."""

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        self._lru: OrderedDict[EntryKey, _Stored] = OrderedDict()
        self._groups: dict[tuple[str, str], OrderedDict[EntryKey, None]] = {}
        self._group_bytes: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._lru)

    async def get(self, key: EntryKey) -> bytes | None:
        stored = self._lru.get(key)
        if stored is None:
            return None
        if stored.expires_at <= self.clock():
            self._remove(key)
            return None
        self._lru.move_to_end(key)
        self._groups[_scope(key)].move_to_end(key)
        return stored.value

    async def set(self, key: EntryKey, value: bytes, *, ttl: float, group_max_bytes: int) -> bool:
        size = len(value) + ENTRY_OVERHEAD
        if size > min(self.max_bytes, group_max_bytes):
            return False
        if key in self._lru:
            self._remove(key)
        scope = _scope(key)
        group = self._groups.setdefault(scope, OrderedDict())
        while group and self._group_bytes.get(scope, 0) + size > group_max_bytes:
            self._remove(next(iter(group)))
        while self._lru and self.bytes + size > self.max_bytes:
            self._remove(next(iter(self._lru)))
        self._lru[key] = _Stored(value, self.clock() + ttl, size)
        self._groups.setdefault(scope, OrderedDict())[key] = None
        self._group_bytes[scope] = self._group_bytes.get(scope, 0) + size
        self.bytes += size
        self._drop_expired_front()
        return True

    async def delete(self, key: EntryKey) -> None:
        if key in self._lru:
            self._remove(key)

    async def purge(self, tenant: str, model_group: str | None = None) -> int:
        scopes = [s for s in self._groups if s[0] == tenant and model_group in (None, s[1])]
        count = 0
        for scope in scopes:
            for key in list(self._groups.get(scope, ())):
                self._remove(key)
                count += 1
        return count

    async def close(self) -> None:
        self._lru.clear()
        self._groups.clear()
        self._group_bytes.clear()
        self.bytes = 0

    def health(self) -> dict[str, object]:
        return {"state": "ok", "backend": "memory", "entries": len(self._lru), "bytes": self.bytes}

    def _remove(self, key: EntryKey) -> None:
        stored = self._lru.pop(key)
        scope = _scope(key)
        group = self._groups[scope]
        del group[key]
        self.bytes -= stored.size
        self._group_bytes[scope] -= stored.size
        if not group:
            del self._groups[scope]
            del self._group_bytes[scope]

    def _drop_expired_front(self) -> None:
        """Expired entries at the LRU's front go now rather than when memory runs short."""
        now = self.clock()
        while self._lru:
            key, stored = next(iter(self._lru.items()))
            if stored.expires_at > now:
                break
            self._remove(key)


def _scope(key: EntryKey) -> tuple[str, str]:
    return key.tenant, key.model_group
