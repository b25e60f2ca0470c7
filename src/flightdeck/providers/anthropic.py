"""The ``anthropic`` provider: Anthropic's Messages API (``POST {base_url}/messages``).

Chat requests are translated with ``flightdeck.wire.anthropic`` and replies (and streams) back
to chat completions. Credentials: ``x-api-key`` (or ``auth = "bearer"`` for gateways that take
a bearer token); ``api_version`` sets ``anthropic-version``; beta features go in the
deployment's ``headers`` (``anthropic-beta = "..."``), sent with every request.
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.core.errors import ConfigError
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers import replies
from flightdeck.providers.base import ChatStream, UpstreamReply
from flightdeck.providers.upstream import HTTPProvider, TranslatedEventStream
from flightdeck.wire.anthropic import (
    DEFAULT_MAX_TOKENS,
    anthropic_to_chat_completion,
    chat_to_anthropic_request,
)
from flightdeck.wire.anthropic_stream import AnthropicToChat
from flightdeck.wire.chat import Notes

DEFAULT_VERSION = "2023-06-01"


class AnthropicProvider(HTTPProvider):
    """Claude models through the Messages API; ``options.max_tokens`` is the ``max_tokens``
    sent when the client gave none (the Messages API requires one)."""

    kind = "anthropic"
    supports_embeddings = False
    default_base_url = "https://api.anthropic.com/v1"

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        most = deployment.options.get("max_tokens", DEFAULT_MAX_TOKENS)
        if not isinstance(most, int) or isinstance(most, bool) or most <= 0:
            raise ConfigError(
                f"model {deployment.name!r}: options.max_tokens must be a positive integer"
            )
        self.default_max_tokens = most

    def default_headers(self) -> dict[str, str]:
        return {"anthropic-version": self.deployment.api_version or DEFAULT_VERSION}

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        if key is None:
            return {}
        if self.deployment.auth == "bearer":
            return {"Authorization": f"Bearer {key.get_secret_value()}"}
        return {"x-api-key": key.get_secret_value()}

    def messages_body(self, body: dict[str, Any], notes: Notes) -> bytes:
        request = chat_to_anthropic_request(
            body,
            model=self.deployment.upstream_model,
            notes=notes,
            default_max_tokens=self.default_max_tokens,
        )
        return orjson.dumps(request)

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        notes = Notes()
        reply = await self.post_for_json(
            "messages",
            self.messages_body(body, notes),
            replies.anthropic_message,
            "an Anthropic message",
        )
        completion = anthropic_to_chat_completion(reply)
        return UpstreamReply.from_json(completion, dropped_thinking=notes.dropped_thinking)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        notes = Notes()
        payload = self.messages_body({**body, "stream": True}, notes)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        resp = await self.post("messages", payload, stream=True)
        return TranslatedEventStream(
            resp,
            AnthropicToChat(include_usage=include_usage),
            notes,
            shape=replies.anthropic_event,
            expected="an Anthropic stream event",
        )

    async def count_tokens(self, body: dict[str, Any]) -> int | None:
        """``POST /v1/messages/count_tokens`` for a chat body (free at Anthropic)."""
        request = chat_to_anthropic_request(
            {**body, "stream": False}, model=self.deployment.upstream_model
        )
        request.pop("max_tokens", None)
        request.pop("stream", None)
        reply = await self.post_for_json(
            "messages/count_tokens", orjson.dumps(request), replies.any_object, "a token count"
        )
        tokens = reply.get("input_tokens")
        return tokens if isinstance(tokens, int) else None
