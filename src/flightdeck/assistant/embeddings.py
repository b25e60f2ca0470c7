"""The local MiniLM encoder, loaded once on first use, with a cache of passage vectors.

Vectors are cached by passage id (content hash + position), so a follow-up question on the
same page encodes only the question. Encoding runs off the event loop; whole pages are encoded
in the background (one batch at a time) so a first question is not held up by the model.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.errors import ConfigError
from flightdeck.providers.local_embeddings import load_sentence_model

Vector = NDArray[np.float32]
BACKGROUND_BATCH = 32


class PassageEncoder:
    """Sentence embeddings (all-MiniLM-L6-v2), normalised so a dot product is the cosine."""

    def __init__(self, max_cached: int = 50_000) -> None:
        self._model: Any = None
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self.max_cached = max_cached
        self.encoded = 0  # texts encoded so far (cache misses)
        self._warming: asyncio.Future[None] | None = None
        self._pending: deque[tuple[str, str]] = deque()
        self._worker: asyncio.Future[None] | None = None

    def _load(self) -> Any:
        try:
            return load_sentence_model()
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (or set [assistant] embeddings = false)") from exc

    def encode_now(self, texts: Sequence[str]) -> NDArray[np.float32]:
        model = self._load()
        self.encoded += len(texts)
        vectors = model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def cached(self, key: str) -> Vector | None:
        return self._cache.get(key)

    def vectors_now(self, items: Sequence[tuple[str, str]]) -> list[Vector]:
        """Vectors of (key, text) items, encoding only the ones not cached yet."""
        missing = [(k, t) for k, t in items if k not in self._cache]
        if missing:
            fresh = self.encode_now([t for _, t in missing])
            for (key, _), vec in zip(missing, fresh, strict=True):
                self._cache[key] = vec
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return [self._cache[k] for k, _ in items]

    async def vectors(self, items: Sequence[tuple[str, str]]) -> list[Vector]:
        return await asyncio.to_thread(self.vectors_now, items)

    def has_all(self, keys: Sequence[str]) -> bool:
        return all(k in self._cache for k in keys)

    def schedule(self, items: Sequence[tuple[str, str]]) -> None:
        """Encode these (key, text) items in the background, one batch at a time."""
        self._pending.extend((k, t) for k, t in items if k not in self._cache)
        if self._pending and (self._worker is None or self._worker.done()):
            self._worker = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch: list[tuple[str, str]] = []
            while self._pending and len(batch) < BACKGROUND_BATCH:
                key, text = self._pending.popleft()
                if key not in self._cache:
                    batch.append((key, text))
            if batch:
                await asyncio.to_thread(self.vectors_now, batch)

    async def idle(self) -> None:
        """Wait until the background work is done (tests and benchmarks)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    async def warm(self) -> None:
        await asyncio.to_thread(self._load)

    def warm_in_background(self) -> None:
        """Start loading the model without waiting (the first requests rank with BM25 alone)."""
        if self._model is None and self._warming is None:
            self._warming = asyncio.ensure_future(self.warm())
