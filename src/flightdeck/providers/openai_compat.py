"""The ``openai`` provider: any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp).

Chat completions are the internal model, so bodies go up and replies come back untranslated:
the reply's bytes are forwarded as they arrived.
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.providers.base import ChatStream, UpstreamReply
from flightdeck.providers.upstream import HTTPEventStream, HTTPProvider


class OpenAIProvider(HTTPProvider):
    """One keep-alive connection pool per deployment (flightdeck.providers.http1)."""

    kind = "openai"

    def upstream_body(self, body: dict[str, Any]) -> bytes:
        return orjson.dumps({**body, "model": self.deployment.upstream_model})

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        return UpstreamReply(await self.post_for_body("chat/completions", self.upstream_body(body)))

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        return UpstreamReply(await self.post_for_body("embeddings", self.upstream_body(body)))

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        return HTTPEventStream(await self.post("chat/completions", self.upstream_body(body)))
