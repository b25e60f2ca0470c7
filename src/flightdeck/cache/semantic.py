"""Nearest-neighbour lookup of prompts for the semantic cache, one index per partition.

A partition is (tenant, model group, API key when the group partitions by key, context hash):
everything but the last user message must match exactly, so only prompts that share it are
ever compared. Vectors are L2-normalised, so inner product is cosine similarity.

A small partition is searched exactly (a NumPy product over its matrix); once it holds more
than ``exact_max_entries`` it moves to a FAISS ``IndexHNSWFlat`` (Malkov and Yashunin, "Efficient
and robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
2016), which answers in logarithmic time. HNSW cannot delete, so removed and expired vectors
are tombstones skipped at search time; a partition whose tombstones outnumber its live vectors
is rebuilt. A partition over ``semantic_max_entries`` drops its oldest vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.cache_settings import CacheSettings
from flightdeck.core.errors import ConfigError

Vector = NDArray[np.float32]
CANDIDATES = 16  # neighbours fetched from HNSW, so that tombstones rarely hide a live match
INSTALL_HINT = "pip install 'flightdeck[local]'"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ConfigError(f"the semantic cache needs FAISS: {INSTALL_HINT}") from exc
    return faiss


@dataclass(frozen=True, slots=True)
class PartitionKey:
    """Which semantic-cache partition an entry lives in: tenant, model group, key and context."""

    tenant: str
    model_group: str
    key_id: int | None
    context_hash: str


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """The stored prompt nearest to a query: its entry's request hash and the similarity."""

    digest: str
    similarity: float


class Partition:
    """The prompts of one partition: a growing matrix, exact or HNSW-indexed."""

    def __init__(self, dimensions: int, settings: CacheSettings) -> None:
        self.settings = settings
        self.dimensions = dimensions
        self.vectors = np.empty((0, dimensions), np.float32)
        self.digests: list[str] = []
        self.expires: list[float] = []
        self.alive: list[bool] = []
        self.rows: dict[str, int] = {}  # digest -> its live row
        self.hnsw: Any = None
        self.first_live = 0

    @property
    def live(self) -> int:
        return len(self.rows)

    def add(self, vector: Vector, digest: str, expires_at: float) -> None:
        self.remove(digest)
        row = len(self.digests)
        if self.hnsw is not None:
            self.hnsw.add(vector.reshape(1, -1))  # HNSW keeps the vectors; no copy here
        else:
            if row == len(self.vectors):
                grown = np.empty((max(16, 2 * row), self.dimensions), np.float32)
                grown[:row] = self.vectors
                self.vectors = grown
            self.vectors[row] = vector
        self.digests.append(digest)
        self.expires.append(expires_at)
        self.alive.append(True)
        self.rows[digest] = row
        if self.hnsw is None and self.live > self.settings.exact_max_entries:
            self._build_hnsw()
        while self.live > self.settings.semantic_max_entries:
            self._kill(self._oldest_live())
        self._maybe_compact()

    def remove(self, digest: str) -> None:
        row = self.rows.get(digest)
        if row is not None:
            self._kill(row)

    def search(self, query: Vector, threshold: float, now: float) -> SemanticMatch | None:
        """The most similar live, unexpired prompt at or above ``threshold``."""
        if not self.rows:
            return None
        if self.hnsw is None:
            count = len(self.digests)
            scores = self.vectors[:count] @ query
            best = int(np.argmax(scores))
            if scores[best] < threshold:
                return None
            if self._usable(best, now):
                return SemanticMatch(self.digests[best], float(scores[best]))
            for row in np.argsort(-scores):  # the best was a tombstone: look further
                score = float(scores[row])
                if score < threshold:
                    return None
                if self._usable(int(row), now):
                    return SemanticMatch(self.digests[row], score)
            return None
        scores, rows = self.hnsw.search(query.reshape(1, -1), CANDIDATES)
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0 or score < threshold:
                return None
            if self._usable(int(row), now):
                return SemanticMatch(self.digests[row], float(score))
        return None

    def expire(self, now: float) -> None:
        for row in list(self.rows.values()):
            if self.expires[row] <= now:
                self._kill(row)
        self._maybe_compact()

    def _usable(self, row: int, now: float) -> bool:
        if not self.alive[row]:
            return False
        if self.expires[row] <= now:
            self._kill(row)
            return False
        return True

    def _kill(self, row: int) -> None:
        if self.alive[row]:
            self.alive[row] = False
            del self.rows[self.digests[row]]

    def _oldest_live(self) -> int:
        while not self.alive[self.first_live]:
            self.first_live += 1
        return self.first_live

    def _maybe_compact(self) -> None:
        dead = len(self.digests) - self.live
        if dead > 64 and dead > self.live:
            self._rebuild()

    def _rebuild(self) -> None:
        keep = sorted(self.rows.values())
        if self.hnsw is None:
            every = self.vectors[: len(self.digests)]
        else:
            every = self.hnsw.reconstruct_n(0, self.hnsw.ntotal)
        self.vectors = np.ascontiguousarray(every[keep])
        self.digests = [self.digests[r] for r in keep]
        self.expires = [self.expires[r] for r in keep]
        self.alive = [True] * len(keep)
        self.rows = {d: i for i, d in enumerate(self.digests)}
        self.first_live = 0
        self.hnsw = None
        if self.live > self.settings.exact_max_entries:
            self._build_hnsw()

    def _build_hnsw(self) -> None:
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(
            self.dimensions, self.settings.hnsw_m, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = max(40, 2 * self.settings.hnsw_m)
        index.hnsw.efSearch = max(self.settings.hnsw_ef_search, CANDIDATES)
        index.add(np.ascontiguousarray(self.vectors[: len(self.digests)]))
        self.hnsw = index  # rows = positions in insertion order, tombstones included
        self.vectors = np.empty((0, self.dimensions), np.float32)  # the graph holds them now


class SemanticIndex:
    """Every partition of this process. Expired vectors are swept at most once a minute."""

    SWEEP_SECONDS = 60.0

    def __init__(self, settings: CacheSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.partitions: dict[PartitionKey, Partition] = {}
        self.next_sweep = clock() + self.SWEEP_SECONDS

    def __len__(self) -> int:
        return sum(p.live for p in self.partitions.values())

    def add(self, key: PartitionKey, vector: Vector, digest: str, expires_at: float) -> None:
        partition = self.partitions.get(key)
        if partition is None:
            partition = self.partitions[key] = Partition(len(vector), self.settings)
        partition.add(np.asarray(vector, np.float32), digest, expires_at)
        self._sweep()

    def has(self, key: PartitionKey) -> bool:
        """Whether the partition holds any prompt (else a lookup need not embed)."""
        partition = self.partitions.get(key)
        return partition is not None and partition.live > 0

    def search(self, key: PartitionKey, query: Vector, threshold: float) -> SemanticMatch | None:
        partition = self.partitions.get(key)
        if partition is None:
            return None
        return partition.search(np.asarray(query, np.float32), threshold, self.clock())

    def remove(self, key: PartitionKey, digest: str) -> None:
        partition = self.partitions.get(key)
        if partition is not None:
            partition.remove(digest)

    def purge(self, tenant: str, model_group: str | None = None) -> int:
        """Forget the tenant's prompts (of one model group if given); returns how many."""
        doomed = [
            k
            for k in self.partitions
            if k.tenant == tenant and model_group in (None, k.model_group)
        ]
        return sum(self.partitions.pop(k).live for k in doomed)

    def _sweep(self) -> None:
        now = self.clock()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.SWEEP_SECONDS
        for key, partition in list(self.partitions.items()):
            partition.expire(now)
            if not partition.live:
                del self.partitions[key]
