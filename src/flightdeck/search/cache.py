"""Loaded snapshots and thumbnail columns, kept in process and bounded (LRU).

A snapshot is built on the first search of a store and rebuilt when its manifest changes; the
manifest is re-read at most every ``manifest_check_seconds``. Stores are keyed by their
canonical URI, so collections of several tenants over one store share one index (access is
checked per collection before anything here is touched).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from flightdeck.core.errors import NotFound
from flightdeck.core.settings import SearchSettings
from flightdeck.search.collections import open_media_store
from flightdeck.search.locations import resolve_store_uri
from flightdeck.search.snapshot import Snapshot, build_snapshot, manifest_digest


@dataclass
class _Loaded:
    snapshot: Snapshot
    checked_at: float


class SnapshotCache:
    """The current snapshot of each store in use; at most one build per store at a time."""

    def __init__(self, settings: SearchSettings, roots: Sequence[str]) -> None:
        self.settings = settings
        self.roots = list(roots)
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self.builds = 0  # snapshots built so far (observable in tests and metrics)

    async def get(self, uri: str) -> Snapshot:
        lock = self._locks.setdefault(uri, asyncio.Lock())
        async with lock:
            loaded = self._loaded.get(uri)
            now = time.monotonic()
            if loaded is not None:
                self._loaded.move_to_end(uri)
                if now - loaded.checked_at < self.settings.manifest_check_seconds:
                    return loaded.snapshot
                try:
                    digest: str | None = await asyncio.to_thread(self._digest, uri, loaded.snapshot)
                except FileNotFoundError:  # the store went away: reopening says so, as a 4xx
                    digest = None
                if digest == loaded.snapshot.digest:
                    loaded.checked_at = now
                    return loaded.snapshot
            snapshot = await asyncio.to_thread(self._build, uri)
            self.builds += 1
            self._loaded[uri] = _Loaded(snapshot, time.monotonic())
            self._loaded.move_to_end(uri)
            while len(self._loaded) > self.settings.max_loaded_collections:
                evicted, _ = self._loaded.popitem(last=False)
                self._locks.pop(evicted, None)
            return snapshot

    def _digest(self, uri: str, snapshot: Snapshot) -> str:
        resolve_store_uri(uri, self.roots)  # still under a root (a link may have moved)
        return manifest_digest(snapshot.store)

    def _build(self, uri: str) -> Snapshot:
        media = open_media_store(uri, self.roots)
        digest = manifest_digest(media)
        return build_snapshot(media, digest, self.settings)


@dataclass(frozen=True)
class Thumbnail:
    """A document's thumbnail bytes and media type."""

    data: bytes
    media_type: str


MEDIA_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png"}


class ThumbnailCache:
    """Thumbnail columns of recently used shards, up to ``thumbnail_cache_bytes`` in all.

    A shard's thumbnails are one Parquet column chunk, so serving one reads the whole column of
    its shard once; the grid of a result page then mostly hits memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._columns: OrderedDict[tuple[str, str], tuple[pa.Table, int]] = OrderedDict()
        self._bytes = 0

    async def get(self, snapshot: Snapshot, doc_id: str) -> Thumbnail:
        position = snapshot.position.get(doc_id)
        if position is None:  # unknown, or not searchable (duplicate, failed)
            raise NotFound(f"document {doc_id!r} does not exist", code="document_not_found")
        shard = snapshot.documents.shard[position]
        row = snapshot.documents.row[position]
        key = (snapshot.digest, shard)
        cached = self._lookup(key)
        if cached is None:
            cached = await asyncio.to_thread(
                snapshot.store.read_shard, shard, ["doc_id", "thumbnail", "thumbnail_format"]
            )
            self._remember(key, cached)
        table: pa.Table = cached
        if table["doc_id"][row].as_py() != doc_id or table["thumbnail"][row].as_py() is None:
            raise NotFound(f"document {doc_id!r} has no thumbnail", code="document_not_found")
        fmt = table["thumbnail_format"][row].as_py() or ""
        data: bytes = table["thumbnail"][row].as_py()
        return Thumbnail(data, MEDIA_TYPES.get(fmt, "application/octet-stream"))

    def _lookup(self, key: tuple[str, str]) -> pa.Table | None:
        hit = self._columns.get(key)
        if hit is None:
            return None
        self._columns.move_to_end(key)
        return hit[0]

    def _remember(self, key: tuple[str, str], table: pa.Table) -> None:
        size = int(table.nbytes)
        if size > self.max_bytes or key in self._columns:
            return
        self._columns[key] = (table, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._columns.popitem(last=False)
            self._bytes -= evicted
