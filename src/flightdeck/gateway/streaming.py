"""Server-sent events to the client: forwarded event by event, cancelled with the client.

Once the first event is on the wire nothing is retried. If the upstream breaks or goes quiet
for longer than the idle timeout, the stream ends with one well-formed error event instead of
hanging. If the client goes away, the upstream call is cancelled at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import orjson
from starlette.types import Receive, Scope, Send

from flightdeck.core.errors import UpstreamError
from flightdeck.gateway.router import OpenedStream
from flightdeck.providers.base import sse_event

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def error_event(message: str, code: str) -> bytes:
    err = {"error": {"message": message, "type": "upstream_error", "param": None, "code": code}}
    return sse_event(orjson.dumps(err))


class EventStreamResponse:
    """An ASGI response that pumps an opened upstream stream to the client."""

    def __init__(
        self,
        opened: OpenedStream,
        *,
        idle_timeout: float,
        headers: list[tuple[bytes, bytes]] | None = None,
        on_event: Callable[[bytes], None] | None = None,
        on_close: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> None:
        self.opened = opened
        self.idle_timeout = idle_timeout
        self.headers = SSE_HEADERS + (headers or [])
        self.on_event = on_event
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_wait_for_disconnect(receive))
        outcome: str | None = None
        try:
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                outcome = pump.result()
            else:
                outcome = "client_disconnected"
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await pump
        finally:
            watch.cancel()
            pump.cancel()
            await self.opened.stream.aclose()
            if self.on_close is not None:
                await self.on_close(outcome)

    async def _pump(self, send: Send) -> str | None:
        """Send every event; returns None when the stream ended well, else an error code."""
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await self._send_event(send, self.opened.first_event)
        events = self.opened.events
        outcome: str | None = None
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    event = await anext(events)
            except StopAsyncIteration:
                break
            except TimeoutError:
                outcome = "stream_idle_timeout"
                msg = f"upstream sent nothing for {self.idle_timeout:.3g}s; stream aborted"
                await self._send_raw(send, error_event(msg, outcome))
                break
            except UpstreamError as exc:
                outcome = "stream_interrupted"
                await self._send_raw(send, error_event(exc.message, outcome))
                break
            await self._send_event(send, event)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return outcome

    async def _send_event(self, send: Send, event: bytes) -> None:
        if self.on_event is not None:
            self.on_event(event)
        await self._send_raw(send, event)

    @staticmethod
    async def _send_raw(send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
