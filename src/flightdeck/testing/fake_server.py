"""What every fake upstream shares: an aiohttp app on a loopback port (in a thread or on the
caller's loop), a ``Behaviour`` that can be changed while it runs, a ``Record`` of what it saw,
and a script of canned answers (corpus streams) that take precedence over the default reply.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web

CREDENTIALS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})


@dataclass
class Behaviour:
    """How a fake upstream behaves: latency, failures, stalls and scripted answers."""

    latency: float = 0.0  # seconds before answering (and between stream chunks)
    failure_rate: float = 0.0  # share of requests answered with fail_status
    fail_status: int = 500
    retry_after: float | None = None  # sent with failures
    hang: bool = False  # never answer
    reset_after_chunks: int | None = None  # streams: drop the connection after this many chunks
    stream_chunks: int = 5
    chunk_delay: float = 0.0
    fail_headers: dict[str, str] = field(default_factory=dict)  # sent with failures
    echo_credentials: bool = False  # failures quote the request's credential headers
    # embeddings (FakeUpstream): "ignore" encoding_format (floats), "honour" it, or "base64"
    # always; dimensions are cut only when honour_dimensions (else embedding_size long)
    embedding_format: str = "ignore"
    honour_dimensions: bool = False
    embedding_size: int = 8


@dataclass
class Record:
    """What the upstream saw: counts by path, cancelled handlers, the last request."""

    counts: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    last_body: dict[str, Any] | None = None
    last_headers: dict[str, str] = field(default_factory=dict)
    last_query: dict[str, str] = field(default_factory=dict)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Canned:
    """One scripted answer: ``body`` sent as is (an SSE stream or a JSON document), cut into
    ``chunk_size``-byte writes when set (to split events, and UTF-8 sequences, mid-way)."""

    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    chunk_size: int | None = None


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


class FakeServer:
    """Base of the fakes: subclasses add routes in ``app()`` and answer in the vendor's shape."""

    def __init__(self, behaviour: Behaviour | None = None, *, seed: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.record = Record()
        self.port = 0
        self.scripted: deque[Canned] = deque()
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    def script(
        self,
        body: bytes,
        *,
        status: int = 200,
        chunk_size: int | None = None,
        content_type: str | None = None,
    ) -> None:
        """Answer the next request with ``body`` (JSON if it starts with ``{``, else SSE,
        unless ``content_type`` says otherwise)."""
        kind = "application/json" if body.lstrip()[:1] in (b"{", b"[") else "text/event-stream"
        self.scripted.append(Canned(body, status, content_type or kind, chunk_size))

    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error document for ``status``."""
        return {"error": {"message": message, "type": "server_error"}}

    # --- lifecycle -------------------------------------------------------------------------
    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> Self:
        """Run in a background thread with its own event loop."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start_async())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name=type(self).__name__)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the parts of a handler every fake shares ------------------------------------------
    async def admit(self, request: web.Request) -> tuple[dict[str, Any], web.StreamResponse | None]:
        """Record the request, apply latency and failures; a response here ends the handler."""
        b = self.behaviour
        self.record.counts[request.path] += 1
        self.record.arrivals.append(time.monotonic())
        self.record.last_headers = dict(request.headers)
        self.record.last_query = dict(request.query)
        body = orjson.loads(await request.read())
        self.record.last_body = body
        try:
            if b.hang:
                await asyncio.sleep(3600)
            if b.latency:
                await asyncio.sleep(b.latency)
        except asyncio.CancelledError:
            self.record.cancelled += 1
            raise
        if b.failure_rate and self._rng.random() < b.failure_rate:
            headers = {"Retry-After": f"{b.retry_after:g}"} if b.retry_after is not None else {}
            headers.update(b.fail_headers)
            message = f"fake upstream failure {b.fail_status}"
            if b.echo_credentials:  # what a misconfigured proxy's error page does
                seen = {k: v for k, v in request.headers.items() if k.lower() in CREDENTIALS}
                message += f"; request headers: {seen}; url: {request.url}"
            return body, json_response(
                self.error_body(b.fail_status, message), b.fail_status, headers
            )
        if self.scripted:
            return body, await self.play(request, self.scripted.popleft())
        return body, None

    async def play(self, request: web.Request, canned: Canned) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=canned.status, headers={"Content-Type": canned.content_type}
        )
        await resp.prepare(request)
        size = canned.chunk_size or len(canned.body) or 1
        for i in range(0, len(canned.body), size):
            await resp.write(canned.body[i : i + size])
        await resp.write_eof()
        return resp

    async def write_events(
        self, request: web.Request, resp: web.StreamResponse, events: list[bytes]
    ) -> None:
        """Write SSE events with the behaviour's delays and mid-stream resets."""
        b = self.behaviour
        try:
            for i, event in enumerate(events):
                if b.reset_after_chunks is not None and i >= b.reset_after_chunks:
                    assert request.transport is not None
                    await asyncio.sleep(0.05)  # let what was written reach the client first
                    request.transport.abort()  # a connection reset, mid-stream
                    return
                await resp.write(event)
                if b.chunk_delay:
                    await asyncio.sleep(b.chunk_delay)
        except asyncio.CancelledError:
            self.record.cancelled += 1
            raise
        await resp.write_eof()


def words(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` pieces, cut at spaces (each keeps its trailing space)."""
    parts = text.split(" ")
    step = max(1, -(-len(parts) // max(1, n)))
    return [
        " ".join(parts[i : i + step]) + (" " if i + step < len(parts) else "")
        for i in range(0, len(parts), step)
    ]
