"""The response cache as one service: plan, look up, store, purge.

The request path uses it like this (``flightdeck.calls`` wires it in)::

    plan = cache.plan(tenant=..., model_group=..., body=body, headers=request.headers)
    hit = await cache.lookup(plan)            # plan.result: hit | semantic-hit | miss | ...
    if hit is not None:
        return hit.completion() or hit.events(include_usage=plan.include_usage)
    reply = ...call the model...
    await cache.store_reply(plan, reply)      # or: recorder = cache.recorder(plan);
                                              # recorder.see(event) per event;
                                              # await cache.store_stream(plan, recorder)

Exact lookups read the backend under (tenant, model group, request hash). Semantic lookups
(groups with ``semantic = true``) embed the last user message with the injected encoder, find
the nearest stored prompt of the same partition, and read that prompt's entry. Prompts are
never stored or logged: entries hold answers under a hash, the index holds vectors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray

from flightdeck.cache.backend import CacheBackend, EntryKey
from flightdeck.cache.entry import CacheEntry, EntryFormatError
from flightdeck.cache.memory import MemoryBackend
from flightdeck.cache.policy import CachePlan, plan_request
from flightdeck.cache.redis_store import RedisBackend, connect
from flightdeck.cache.semantic import PartitionKey, SemanticIndex
from flightdeck.cache.streams import StreamRecorder
from flightdeck.core.cache_settings import CacheSettings
from flightdeck.core.errors import ConfigError

TextEncoder = Callable[[list[str]], NDArray[np.float32]]
"""Texts -> L2-normalised vectors (one row each); called on a worker thread."""


@dataclass(slots=True)
class CacheHit:
    """A found entry. ``similarity`` is set for a semantic hit."""

    result: Literal["hit", "semantic-hit"]
    entry: CacheEntry
    similarity: float | None = None

    @property
    def usage(self) -> dict[str, Any] | None:
        """The usage of the call that wrote the entry: what this hit saved."""
        return self.entry.usage

    def completion(self) -> dict[str, Any]:
        """A ``chat.completion`` object with a fresh id."""
        return self.entry.completion(now=int(time.time()))

    def events(self, *, include_usage: bool) -> list[bytes]:
        """Server-sent events of a ``chat.completion.chunk`` stream with a fresh id."""
        return self.entry.events(now=int(time.time()), include_usage=include_usage)


def sentence_encoder(model: Any) -> TextEncoder:
    """A TextEncoder over a sentence-transformers model (``model.encode``)."""

    def encode(texts: list[str]) -> NDArray[np.float32]:
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, np.float32)

    return encode


class ResponseCache:
    """Exact and semantic caching of chat completions, isolated per tenant and model group."""

    def __init__(
        self,
        settings: CacheSettings,
        backend: CacheBackend,
        encoder: TextEncoder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.encoder = encoder
        self.clock = clock
        self.index = SemanticIndex(settings, clock)
        self._encoding = ThreadPoolExecutor(1, thread_name_prefix="cache-encoder")

    @classmethod
    def from_settings(cls, settings: CacheSettings, encoder: TextEncoder | None = None) -> Self:
        """The backend the settings name. Raises ConfigError when a group asks for the
        semantic cache and no encoder is given."""
        semantic = settings.semantic or any(g.semantic for g in settings.models.values())
        if semantic and encoder is None:
            raise ConfigError("cache: the semantic cache needs the local MiniLM encoder")
        backend: CacheBackend
        if settings.backend == "redis":
            client = connect(settings.redis_url, settings.redis_timeout_seconds)
            backend = RedisBackend(
                client,
                prefix=settings.key_prefix,
                timeout=settings.redis_timeout_seconds,
                probe_seconds=settings.probe_seconds,
            )
        else:
            backend = MemoryBackend(settings.max_bytes)
        return cls(settings, backend, encoder)

    @property
    def semantic(self) -> bool:
        """Whether some model group uses the semantic cache (and so the encoder)."""
        settings = self.settings
        return settings.semantic or any(g.semantic for g in settings.models.values())

    def plan(
        self,
        *,
        tenant: str,
        model_group: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        key_id: int | None = None,
    ) -> CachePlan:
        """See ``flightdeck.cache.policy.plan_request``; raises InvalidRequest (400)."""
        return plan_request(
            self.settings,
            tenant=tenant,
            model_group=model_group,
            body=body,
            headers=headers,
            key_id=key_id,
        )

    async def lookup(self, plan: CachePlan) -> CacheHit | None:
        """The entry for ``plan``, exact first, then semantic; sets ``plan.result``."""
        if not plan.read:
            return None
        entry = await self._read(_entry_key(plan, plan.request_hash))
        if entry is not None:
            plan.result = "hit"
            return CacheHit("hit", entry)
        if plan.semantic is not None and self.encoder is not None:
            partition = _partition(plan)
            if not self.index.has(partition):
                return None  # nothing to compare with: embed only if the reply is stored
            plan.vector = await self._embed(plan.semantic.text)
            match = self.index.search(partition, plan.vector, plan.threshold)
            if match is not None:
                entry = await self._read(_entry_key(plan, match.digest))
                if entry is None:  # evicted from the backend, or expired there
                    self.index.remove(partition, match.digest)
                else:
                    plan.result = "semantic-hit"
                    return CacheHit("semantic-hit", entry, match.similarity)
        return None

    async def store_reply(self, plan: CachePlan, reply: dict[str, Any]) -> bool:
        """Store a successful ``chat.completion`` reply; False when not stored."""
        if not plan.write or not reply.get("choices"):
            return False
        body = {k: v for k, v in reply.items() if k not in ("id", "created", "usage")}
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else None
        return await self._write(plan, CacheEntry(reply=body, usage=usage))

    def recorder(self, plan: CachePlan) -> StreamRecorder | None:
        """A recorder to ``see`` each event of the stream, or None when nothing is stored."""
        return StreamRecorder() if plan.write else None

    async def store_stream(self, plan: CachePlan, recorder: StreamRecorder) -> bool:
        """Store a recorded stream if it ended well (``[DONE]``, no error); False if not."""
        if not plan.write or not recorder.complete:
            return False
        if recorder.size > self.settings.max_entry_bytes:
            return False
        entry = CacheEntry(chunks=_strip_ids(recorder.chunks), usage=recorder.usage)
        return await self._write(plan, entry)

    async def purge(self, tenant: str, model_group: str | None = None) -> int:
        """Delete the tenant's entries and prompt vectors (of one model group if given);
        returns the number of entries deleted. Raises CacheUnavailable (503) when the shared
        store cannot be reached."""
        self.index.purge(tenant, model_group)
        return await self.backend.purge(tenant, model_group)

    async def close(self) -> None:
        self._encoding.shutdown(wait=False, cancel_futures=True)
        await self.backend.close()

    def health(self) -> dict[str, object]:
        return {**self.backend.health(), "semantic_entries": len(self.index)}

    async def _read(self, key: EntryKey) -> CacheEntry | None:
        data = await self.backend.get(key)
        if data is None:
            return None
        try:
            return CacheEntry.from_bytes(data)
        except EntryFormatError:
            await self.backend.delete(key)  # written by another version: a miss, and gone
            return None

    async def _write(self, plan: CachePlan, entry: CacheEntry) -> bool:
        entry.written_at = self.clock()
        data = entry.to_bytes()
        if len(data) > self.settings.max_entry_bytes:
            return False
        group = plan.group
        key = _entry_key(plan, plan.request_hash)
        stored = await self.backend.set(
            key, data, ttl=group.ttl_seconds, group_max_bytes=group.max_bytes
        )
        if stored and plan.semantic is not None and self.encoder is not None:
            if plan.vector is None:
                plan.vector = await self._embed(plan.semantic.text)
            expires = entry.written_at + group.ttl_seconds
            self.index.add(_partition(plan), plan.vector, plan.request_hash, expires)
        return stored

    async def _embed(self, text: str) -> NDArray[np.float32]:
        assert self.encoder is not None
        encoder = self.encoder
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self._encoding, encoder, [text])
        return np.asarray(vectors[0], np.float32)


def _entry_key(plan: CachePlan, digest: str) -> EntryKey:
    return EntryKey(plan.tenant, plan.model_group, digest)


def _partition(plan: CachePlan) -> PartitionKey:
    assert plan.semantic is not None
    key_id = plan.key_id if plan.group.partition_by_key else None
    return PartitionKey(plan.tenant, plan.model_group, key_id, plan.semantic.context_hash)


def _strip_ids(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chunks without their ``id`` and ``created`` (each replay sets fresh ones)."""
    return [{k: v for k, v in c.items() if k not in ("id", "created")} for c in chunks]
