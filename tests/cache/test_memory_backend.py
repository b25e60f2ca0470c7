"""The in-process backend: bounded in bytes (total and per group), LRU, TTL, purge."""

from __future__ import annotations

from flightdeck.cache import EntryKey, MemoryBackend
from flightdeck.cache.memory import ENTRY_OVERHEAD
from tests.cache.conftest import FakeClock

BIG = 1 << 30
VALUE = b"x" * 800  # 1000 bytes with the per-entry overhead


def key(n: int, tenant: str = "t", group: str = "g") -> EntryKey:
    return EntryKey(tenant, group, f"{n:064x}")


async def test_least_recently_used_entry_goes_when_the_byte_cap_is_reached(
    clock: FakeClock,
) -> None:
    backend = MemoryBackend(max_bytes=3 * (len(VALUE) + ENTRY_OVERHEAD), clock=clock)
    for n in range(3):
        assert await backend.set(key(n), VALUE, ttl=60, group_max_bytes=BIG)
    assert await backend.get(key(0)) == VALUE  # 0 is now the most recently used
    await backend.set(key(3), VALUE, ttl=60, group_max_bytes=BIG)
    assert await backend.get(key(1)) is None
    assert [await backend.get(key(n)) is not None for n in (0, 2, 3)] == [True] * 3
    assert backend.bytes <= backend.max_bytes


async def test_a_group_over_its_cap_evicts_its_own_entries_only(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=BIG, clock=clock)
    two = 2 * (len(VALUE) + ENTRY_OVERHEAD)
    await backend.set(key(0, group="other"), VALUE, ttl=60, group_max_bytes=BIG)
    for n in range(4):
        await backend.set(key(n), VALUE, ttl=60, group_max_bytes=two)
    assert [await backend.get(key(n)) is not None for n in range(4)] == [False, False, True, True]
    assert await backend.get(key(0, group="other")) == VALUE


async def test_entries_larger_than_the_cap_are_refused(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=500, clock=clock)
    assert not await backend.set(key(0), VALUE, ttl=60, group_max_bytes=BIG)
    assert len(backend) == 0


async def test_entries_expire_with_their_ttl(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=BIG, clock=clock)
    await backend.set(key(0), VALUE, ttl=10, group_max_bytes=BIG)
    clock.advance(9.9)
    assert await backend.get(key(0)) == VALUE
    clock.advance(0.2)
    assert await backend.get(key(0)) is None
    assert backend.bytes == 0


async def test_expired_entries_free_memory_without_being_read(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=BIG, clock=clock)
    await backend.set(key(0), VALUE, ttl=1, group_max_bytes=BIG)
    clock.advance(2)
    await backend.set(key(1), VALUE, ttl=60, group_max_bytes=BIG)
    assert len(backend) == 1


async def test_purge_deletes_a_tenants_entries_or_one_group_of_them(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=BIG, clock=clock)
    for tenant, group in [("a", "g1"), ("a", "g2"), ("b", "g1")]:
        await backend.set(key(1, tenant, group), VALUE, ttl=60, group_max_bytes=BIG)
    assert await backend.purge("a", "g1") == 1
    assert await backend.get(key(1, "a", "g2")) == VALUE
    assert await backend.purge("a") == 1
    assert await backend.get(key(1, "b", "g1")) == VALUE
    assert len(backend) == 1
