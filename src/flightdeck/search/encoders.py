"""Query encoding: the shared MiniLM for captions, and optionally a CLIP text tower for images.

Models load on the first search (never at start-up), on one worker thread, so a server that
never serves search never pays for them and encoding never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from flightdeck.core.errors import ConfigError
from flightdeck.encoders.clip import ImageTextEncoder, load_clip
from flightdeck.encoders.sentence import load_sentence_model
from flightdeck.search.index import Matrix


class QueryEncoder:
    """Turns a query into the vectors each index understands (``text``, ``image``)."""

    def __init__(self, clip_model: str | None = None) -> None:
        self.clip_model = clip_model
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="search-encoder")
        self._clip: ImageTextEncoder | None = None
        self._clip_lock = threading.Lock()

    def _text_now(self, query: str) -> Matrix:
        try:
            model: Any = load_sentence_model()
        except ConfigError as exc:
            raise ConfigError(f"search: {exc.message}") from exc
        vector = model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vector, dtype=np.float32)

    def _image_now(self, query: str) -> Matrix:
        with self._clip_lock:
            if self._clip is None:
                self._clip = load_clip(self.clip_model)
        assert self._clip is not None
        return np.asarray(self._clip.encode_texts([query]), dtype=np.float32)

    async def encode(self, query: str, wanted: set[str]) -> dict[str, Matrix]:
        """Vectors for the wanted indexes (``text``, ``image``); ``image`` needs a CLIP model."""
        loop = asyncio.get_running_loop()
        out: dict[str, Matrix] = {}
        if "text" in wanted:
            out["text"] = await loop.run_in_executor(self._executor, self._text_now, query)
        if "image" in wanted and self.clip_model:
            out["image"] = await loop.run_in_executor(self._executor, self._image_now, query)
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
