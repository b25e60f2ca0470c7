"""The ``openai`` provider: any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp).

Chat completions are the internal model, so bodies go up and replies come back untranslated;
each reply is checked inside the attempt (``flightdeck.providers.replies``: content type,
JSON, the shape of a completion, of each stream chunk, of an embeddings list). Embeddings are
made to honour ``encoding_format`` and ``dimensions`` whatever the server did with them
(``flightdeck.wire.embeddings``; ``options.matryoshka = true`` allows cutting vectors).
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.providers import replies
from flightdeck.providers.base import ChatStream, UpstreamReply
from flightdeck.providers.upstream import HTTPEventStream, HTTPProvider
from flightdeck.wire.embeddings import conform_embeddings


class OpenAIProvider(HTTPProvider):
    """One keep-alive connection pool per deployment (flightdeck.providers.http1)."""

    kind = "openai"

    def upstream_body(self, body: dict[str, Any]) -> bytes:
        return orjson.dumps({**body, "model": self.deployment.upstream_model})

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        resp, raw = await self.post_for_body("chat/completions", self.upstream_body(body))
        data = replies.json_reply(
            resp.status,
            resp.headers.get("content-type"),
            raw,
            replies.chat_completion,
            "a chat.completion",
        )
        return UpstreamReply(raw, data)

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        resp, raw = await self.post_for_body("embeddings", self.upstream_body(body))
        data = replies.json_reply(
            resp.status,
            resp.headers.get("content-type"),
            raw,
            replies.embeddings,
            "an embeddings list",
        )
        matryoshka = bool(self.deployment.options.get("matryoshka", False))
        if conform_embeddings(data, body, matryoshka=matryoshka, model=self.deployment.name):
            return UpstreamReply.from_json(data)
        return UpstreamReply(raw, data)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        resp = await self.post("chat/completions", self.upstream_body(body), stream=True)
        return HTTPEventStream(resp)
