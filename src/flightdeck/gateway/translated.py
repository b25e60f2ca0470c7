"""What the inbound routes of other wire formats share: chat chunks read off a model stream,
translated to the client's format event by event, and the rate-limit and routing headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from flightdeck.calls import ModelStream
from flightdeck.core.errors import UpstreamError
from flightdeck.wire.chat import FromChat

ChunkHook = Callable[[dict[str, Any]], None]
EndHook = Callable[[], Awaitable[None]]


def chat_chunk(block: bytes) -> dict[str, Any] | None:
    """The JSON object of one ``data: ...`` SSE block; None for ``[DONE]`` and comments."""
    data = [line[5:].strip() for line in block.splitlines() if line.startswith(b"data:")]
    if not data or data == [b"[DONE]"]:
        return None
    try:
        chunk = orjson.loads(b"\n".join(data))
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream sent an event that is not JSON") from None
    return chunk if isinstance(chunk, dict) else None


def with_dropped(headers: list[tuple[bytes, bytes]], count: int) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``x-flightdeck-thinking-dropped`` set to ``count`` (the provider's
    count and the reply translation's together), or without it when nothing was dropped."""
    name = b"x-flightdeck-thinking-dropped"
    out = [(k, v) for k, v in headers if k != name]
    return [*out, (name, str(count).encode())] if count else out


async def translated(
    stream: ModelStream,
    translator: FromChat,
    *,
    on_chunk: ChunkHook | None = None,
    before_end: EndHook | None = None,
) -> AsyncIterator[bytes]:
    """The stream's chat chunks as the client's events. A stream that breaks (or goes quiet)
    ends with the format's error events; one that ends well with its closing events, after
    ``before_end`` ran (to store the finished reply before the client hears it is done)."""
    try:
        async for block in stream:
            chunk = chat_chunk(block)
            if chunk is None:
                continue
            if on_chunk is not None:
                on_chunk(chunk)
            for event in translator.feed(chunk):
                yield translator.encode(event)
        closing = translator.finish()
    except UpstreamError as exc:
        for event in translator.fail(exc.message, exc.status):
            yield translator.encode(event)
        return
    if before_end is not None:
        await before_end()
    for event in closing:
        yield translator.encode(event)
