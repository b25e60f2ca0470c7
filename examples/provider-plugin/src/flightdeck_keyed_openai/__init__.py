"""A Flightdeck provider for OpenAI-compatible APIs that take the key in an ``X-API-Key`` header.

Everything here comes from ``flightdeck.providers``, the plugin surface: ``HTTPProvider`` (the
pooled upstream connection, ``post``/``post_for_json``, error mapping to ``UpstreamError``),
``replies`` (the shape checks of a reply), ``HTTPEventStream`` (an upstream's server-sent
events, forwarded event by event), ``UpstreamReply`` and ``ChatStream``.
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.providers import ChatStream, HTTPEventStream, HTTPProvider, UpstreamReply, replies


class KeyedOpenAIProvider(HTTPProvider):
    """Chat completions and embeddings, forwarded untranslated; the key goes in X-API-Key."""

    kind = "keyed-openai"  # what `provider = "..."` names in the config

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        return {"X-API-Key": key.get_secret_value()} if key else {}

    def upstream_body(self, body: dict[str, Any]) -> bytes:
        """The request as the upstream wants it: the deployment's own model name."""
        return orjson.dumps({**body, "model": self.deployment.upstream_model})

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        payload = self.upstream_body(body)
        data = await self.post_for_json(
            "chat/completions", payload, replies.chat_completion, "a chat.completion"
        )
        return UpstreamReply.from_json(data)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        payload = self.upstream_body(body)
        return HTTPEventStream(await self.post("chat/completions", payload, stream=True))

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        payload = self.upstream_body(body)
        data = await self.post_for_json("embeddings", payload, replies.embeddings, "embeddings")
        return UpstreamReply.from_json(data)
