"""The ``gemini`` provider: Google's ``generateContent`` on the Gemini API or Vertex AI.

Both take the same JSON at ``{base_url}/models/{model}:generateContent`` (and
``:streamGenerateContent?alt=sse``); they differ in the base URL and the credential:

- Gemini API: ``base_url`` defaults to ``https://generativelanguage.googleapis.com/v1beta``;
  the API key goes in ``x-goog-api-key``.
- Vertex AI: ``base_url = "https://{location}-aiplatform.googleapis.com/v1/projects/{project}/
  locations/{location}/publishers/google"`` and ``auth = "bearer"`` with an OAuth access token
  as the key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from flightdeck.core.settings import ModelDeployment
from flightdeck.providers import replies
from flightdeck.providers.base import ChatStream, UpstreamReply
from flightdeck.providers.upstream import HTTPProvider, TranslatedEventStream
from flightdeck.wire.chat import Notes
from flightdeck.wire.gemini import chat_to_gemini_request, gemini_to_chat_completion
from flightdeck.wire.gemini_stream import GeminiToChat


class GeminiProvider(HTTPProvider):
    """Gemini models through ``generateContent`` (see the module docstring for the two
    endpoints); requests, replies and streams translated by ``flightdeck.wire.gemini``."""

    kind = "gemini"
    supports_embeddings = False
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        self.model_path = f"models/{quote(deployment.upstream_model, safe='-._~')}"

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        if key is None:
            return {}
        if self.deployment.auth == "bearer":
            return {"Authorization": f"Bearer {key.get_secret_value()}"}
        return {"x-goog-api-key": key.get_secret_value()}

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        notes = Notes()
        payload = orjson.dumps(chat_to_gemini_request(body, notes=notes))
        reply = await self.post_for_json(
            f"{self.model_path}:generateContent",
            payload,
            replies.gemini_response,
            "a Gemini GenerateContentResponse",
        )
        completion = gemini_to_chat_completion(reply)
        completion["model"] = completion["model"] or self.deployment.upstream_model
        return UpstreamReply.from_json(completion, dropped_thinking=notes.dropped_thinking)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        notes = Notes()
        payload = orjson.dumps(chat_to_gemini_request({**body, "stream": False}, notes=notes))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        resp = await self.post(
            f"{self.model_path}:streamGenerateContent?alt=sse", payload, stream=True
        )
        return TranslatedEventStream(
            resp,
            GeminiToChat(include_usage=include_usage),
            notes,
            shape=replies.gemini_event,
            expected="a Gemini GenerateContentResponse chunk",
        )

    async def count_tokens(self, body: dict[str, Any]) -> int | None:
        """Prompt tokens of a chat request, counted by the upstream (``countTokens``)."""
        request = chat_to_gemini_request({**body, "stream": False})
        request["model"] = self.model_path
        payload = orjson.dumps({"generateContentRequest": request})
        reply = await self.post_for_json(
            f"{self.model_path}:countTokens", payload, replies.any_object, "a token count"
        )
        total = reply.get("totalTokens")
        return total if isinstance(total, int) else None
