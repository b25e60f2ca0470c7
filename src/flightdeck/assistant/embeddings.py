"""Local passage encoders, loaded on first use, each with a cache of passage vectors.

all-MiniLM-L6-v2 ranks English pages; the Universal Sentence Encoder Multilingual
(``flightdeck.encoders.multilingual``) ranks pages in the other languages it knows; a page in
any other language is ranked by BM25 alone (``Encoders.for_languages``). Vectors are cached by
passage id (content hash + position), so a follow-up question on the same page encodes only
the question. Encoding runs off the event loop; whole pages are encoded in the background (one
batch at a time) so a first question is not held up by the model.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.errors import ConfigError
from flightdeck.encoders.multilingual import LANGUAGES as MULTILINGUAL_LANGUAGES
from flightdeck.encoders.multilingual import encode_multilingual, load_multilingual_model
from flightdeck.encoders.sentence import load_sentence_model

Vector = NDArray[np.float32]
TextEncoder = Callable[[Sequence[str]], NDArray[np.float32]]  # texts -> L2-normalised rows
BACKGROUND_BATCH = 32
log = logging.getLogger(__name__)


def _minilm() -> TextEncoder:
    model = load_sentence_model()

    def encode(texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode


def _multilingual() -> TextEncoder:
    load_multilingual_model()
    return encode_multilingual


class PassageEncoder:
    """Sentence embeddings, normalised so a dot product is the cosine.

    ``load`` returns the model's encode function (loading it on first call); the default is
    all-MiniLM-L6-v2, ``PassageEncoder.multilingual()`` the Universal Sentence Encoder.
    """

    def __init__(
        self, max_cached: int = 50_000, *, load: Callable[[], TextEncoder] = _minilm
    ) -> None:
        self._load_model = load
        self._model: TextEncoder | None = None
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self.max_cached = max_cached
        self.encoded = 0  # texts encoded so far (cache misses)
        self._warming: asyncio.Future[None] | None = None
        self._pending: deque[tuple[str, str]] = deque()
        self._worker: asyncio.Future[None] | None = None

    @classmethod
    def multilingual(cls, max_cached: int = 50_000) -> PassageEncoder:
        """An encoder for pages in ``MULTILINGUAL_LANGUAGES`` (16 languages, English too)."""
        return cls(max_cached, load=_multilingual)

    def _load(self) -> TextEncoder:
        if self._model is None:
            try:
                self._model = self._load_model()
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} (or set [assistant] embeddings = false)") from exc
        return self._model

    def encode_now(self, texts: Sequence[str]) -> NDArray[np.float32]:
        model = self._load()
        self.encoded += len(texts)
        return model(texts)

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
        """Start loading the model without waiting (the first requests rank with BM25 alone).

        A model that cannot load (package missing) is logged once; ranking stays lexical.
        """
        if self._model is None and self._warming is None:
            self._warming = asyncio.ensure_future(self._warm_quietly())

    async def _warm_quietly(self) -> None:
        try:
            await self.warm()
        except ConfigError as exc:
            log.warning("passage embeddings are off: %s", exc.message)


class Encoders:
    """The assistant's encoders: MiniLM for English pages, the multilingual model for pages in
    the languages it knows, none (BM25 alone) for the rest. Each loads on first need."""

    def __init__(
        self,
        english: PassageEncoder | None = None,
        multilingual: PassageEncoder | None = None,
        *,
        use_multilingual: bool = True,
    ) -> None:
        self.english = english or PassageEncoder()
        self.multilingual = (
            (multilingual or PassageEncoder.multilingual()) if use_multilingual else None
        )

    def for_languages(self, languages: Sequence[str]) -> PassageEncoder | None:
        """The encoder for pages in these ISO 639-1 languages ("" = unknown, taken as English)."""
        known = [lang for lang in languages if lang]
        if all(lang == "en" for lang in known):
            return self.english
        if self.multilingual is not None and all(lang in MULTILINGUAL_LANGUAGES for lang in known):
            return self.multilingual
        return None

    def ready_for(self, languages: Sequence[str]) -> PassageEncoder | None:
        """``for_languages`` if that model is loaded; else None (BM25 now) and it starts loading."""
        encoder = self.for_languages(languages)
        if encoder is None or encoder.loaded:
            return encoder
        encoder.warm_in_background()
        return None
