"""Server-sent events to the client: sent event by event, stopped when the client goes away.

``EventStreamResponse`` pumps any async iterator of complete SSE blocks (``data: ...\\n\\n``)
to the client while it watches the connection: if the client disconnects, the pump is
cancelled at once (and with it the upstream call the events come from), the iterator is
closed and ``on_close`` runs, so whatever the events held (an upstream connection, a
reservation) is released right away, not when the next event would have been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.types import Receive, Scope, Send

from flightdeck.api.disconnect import wait_for_disconnect
from flightdeck.core.errors import FlightdeckError
from flightdeck.core.redact import redact
from flightdeck.providers.base import sse_event

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def error_event(error: FlightdeckError) -> bytes:
    """The OpenAI error shape as one SSE block, for a stream that fails after it started."""
    message = redact(error.message)
    body = {"message": message, "type": error.type, "param": None, "code": error.code}
    return sse_event(orjson.dumps({"error": body}))


class EventStreamResponse:
    """An ASGI response that sends events as they come and stops with the client."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.events = events
        self.headers = SSE_HEADERS + (headers or [])
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                pump.result()
        finally:
            watch.cancel()
            if not pump.done():
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await pump
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()
            if self.on_close is not None:
                await self.on_close()

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        async for event in self.events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
