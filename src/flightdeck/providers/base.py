"""What a provider is: a connection to one deployment that speaks one wire format.

Providers take and return OpenAI-shaped JSON. They raise ``UpstreamError`` (and its
subclasses) for every failure, with ``upstream_status`` and ``retry_after`` filled in where the
upstream said so; the router decides what to retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from flightdeck.core.settings import ModelDeployment


@dataclass(slots=True)
class UpstreamReply:
    """A successful non-streaming reply: the raw JSON body, parsed on demand.

    ``dropped_thinking``: thinking blocks the request's translation had to leave out
    (``flightdeck.wire.chat.Notes``); 0 for untranslated passthrough.
    """

    body: bytes
    _parsed: dict[str, Any] | None = field(default=None, repr=False)
    dropped_thinking: int = 0

    def json(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.body)
        return self._parsed

    @classmethod
    def from_json(cls, data: dict[str, Any], *, dropped_thinking: int = 0) -> UpstreamReply:
        return cls(orjson.dumps(data), data, dropped_thinking)


class ChatStream:
    """An opened stream of server-sent events, each a complete ``data: ...`` block."""

    @property
    def dropped_thinking(self) -> int:
        """Thinking blocks the request's translation had to leave out (see UpstreamReply)."""
        return 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.events()

    async def events(self) -> AsyncIterator[bytes]:
        raise NotImplementedError
        yield b""  # pragma: no cover

    async def aclose(self) -> None:
        """Release the upstream connection; safe to call twice."""


class Provider:
    """Base class of every provider. Subclasses set ``kind`` and implement what they support."""

    kind: ClassVar[str] = ""
    supports_chat: ClassVar[bool] = True
    supports_embeddings: ClassVar[bool] = True

    def __init__(self, deployment: ModelDeployment) -> None:
        self.deployment = deployment

    async def start(self) -> None:
        """Open connections or load weights; called once before the first request."""

    async def close(self) -> None:
        """Release what ``start`` took."""

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        raise NotImplementedError

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        """Open a streaming chat; raises before returning if the upstream refused."""
        raise NotImplementedError

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        raise NotImplementedError

    async def count_tokens(self, body: dict[str, Any]) -> int | None:
        """Prompt tokens of a chat ``body`` as the upstream counts them; None when this
        provider cannot ask (the caller estimates with the gateway's tokenizer)."""
        return None

    async def ready(self) -> bool:
        """Whether the provider can take traffic (weights loaded, session open)."""
        return True


def sse_event(data: bytes) -> bytes:
    """One server-sent event holding ``data`` (``data: ...`` and a blank line)."""
    return b"data: " + data + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
