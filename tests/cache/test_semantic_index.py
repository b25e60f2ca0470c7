"""The per-partition nearest-neighbour index: exact when small, HNSW when large."""

from __future__ import annotations

import numpy as np

from flightdeck.cache import PartitionKey, SemanticIndex
from flightdeck.core.cache_settings import CacheSettings
from tests.cache.conftest import FakeClock, unit

P = PartitionKey("t", "g", None, "ctx")


def index(clock: FakeClock, **settings: int) -> SemanticIndex:
    return SemanticIndex(CacheSettings.model_validate(settings), clock)


def test_nearest_prompt_at_or_above_the_threshold_is_found(clock: FakeClock) -> None:
    idx = index(clock)
    idx.add(P, unit(1, 0), "a", clock() + 60)
    idx.add(P, unit(0, 1), "b", clock() + 60)
    match = idx.search(P, unit(1, 0.1), 0.9)
    assert match is not None and match.digest == "a" and match.similarity > 0.99
    assert idx.search(P, unit(1, 1), 0.9) is None  # cosine 0.707 to both


def test_other_partitions_are_never_searched(clock: FakeClock) -> None:
    idx = index(clock)
    idx.add(P, unit(1, 0), "a", clock() + 60)
    for other in [
        PartitionKey("t2", "g", None, "ctx"),
        PartitionKey("t", "g2", None, "ctx"),
        PartitionKey("t", "g", 7, "ctx"),
        PartitionKey("t", "g", None, "other-context"),
    ]:
        assert idx.search(other, unit(1, 0), 0.5) is None


def test_expired_and_removed_prompts_are_not_found(clock: FakeClock) -> None:
    idx = index(clock)
    idx.add(P, unit(1, 0), "a", clock() + 10)
    idx.add(P, unit(1, 0.2), "b", clock() + 100)
    clock.advance(11)
    match = idx.search(P, unit(1, 0), 0.5)
    assert match is not None and match.digest == "b"
    idx.remove(P, "b")
    assert idx.search(P, unit(1, 0), 0.5) is None


def test_a_large_partition_moves_to_hnsw_and_still_finds_its_prompts(clock: FakeClock) -> None:
    idx = index(clock, exact_max_entries=100)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for n, v in enumerate(vectors):
        idx.add(P, v, f"d{n}", clock() + 60)
    assert idx.partitions[P].hnsw is not None
    found = [idx.search(P, v, 0.99) for v in vectors[:50]]
    assert [m.digest if m else None for m in found] == [f"d{n}" for n in range(50)]
    idx.remove(P, "d0")
    assert idx.search(P, vectors[0], 0.99) is None  # a tombstone is skipped


def test_a_full_partition_drops_its_oldest_prompts(clock: FakeClock) -> None:
    idx = index(clock, semantic_max_entries=2)
    for n, v in enumerate([unit(1, 0), unit(0, 1), unit(0, 0, 1)]):
        idx.add(P, v, f"d{n}", clock() + 60)
    assert len(idx) == 2
    assert idx.search(P, unit(1, 0), 0.9) is None
    assert idx.search(P, unit(0, 0, 1), 0.9) is not None


def test_many_removals_compact_the_partition(clock: FakeClock) -> None:
    idx = index(clock, exact_max_entries=50)
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for n, v in enumerate(vectors):
        idx.add(P, v, f"d{n}", clock() + 60)
    for n in range(150):
        idx.remove(P, f"d{n}")
    idx.add(P, vectors[0], "again", clock() + 60)
    partition = idx.partitions[P]
    assert len(partition.digests) == partition.live == 51
    match = idx.search(P, vectors[199], 0.99)
    assert match is not None and match.digest == "d199"


def test_purge_forgets_a_tenants_partitions(clock: FakeClock) -> None:
    idx = index(clock)
    other = PartitionKey("t2", "g", None, "ctx")
    idx.add(P, unit(1, 0), "a", clock() + 60)
    idx.add(other, unit(1, 0), "a", clock() + 60)
    assert idx.purge("t") == 1
    assert idx.search(P, unit(1, 0), 0.5) is None
    assert idx.search(other, unit(1, 0), 0.5) is not None


def test_the_sweep_drops_expired_partitions(clock: FakeClock) -> None:
    idx = index(clock)
    idx.add(P, unit(1, 0), "a", clock() + 10)
    clock.advance(SemanticIndex.SWEEP_SECONDS + 1)
    idx.add(PartitionKey("t", "g", None, "new"), unit(1, 0), "b", clock() + 10)
    assert P not in idx.partitions
