"""A lean HTTP/1.1 client for the gateway's calls upstream: keep-alive pool, httptools parser.

Profiling the gateway under load showed aiohttp's client at a quarter of its CPU (a task per
request to write the body, timeout handles, request-info objects). This client does only what an
upstream model call needs: one origin per pool, ``POST`` with a bytes body, a response read whole
or chunk by chunk with flow control, chunked and gzip/deflate bodies, TLS. Deadlines belong to
the caller (``asyncio.timeout`` around the call); a cancelled request closes its connection, so
the upstream sees the client go away.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

HIGH_WATER = 256 * 1024  # buffered body bytes before the socket stops being read


class ConnectionLost(ConnectionError):
    """The server closed the connection before the response was complete."""


class MalformedResponse(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request/response at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: ConnectionPool) -> None:
        self.loop = loop
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.response: Response | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        parser = response.parser
        if parser is None:  # released: as above
            self.abort()
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            response.fail(MalformedResponse("the server tried to upgrade the connection"))
            self.abort()
        except httptools.HttpParserError as exc:
            response.fail(MalformedResponse(f"invalid HTTP response: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._open.discard(self)
        response = self.response
        if response is not None and not response.done:
            if response.until_eof and response.headers_done:
                response.on_message_complete()  # a body delimited by the connection closing
            else:
                reason = f": {exc}" if exc else ""
                response.fail(ConnectionLost(f"the server closed the connection{reason}"))

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Response:
    """Status and headers as soon as they arrive; the body read whole or chunk by chunk."""

    def __init__(self, pool: ConnectionPool, conn: _Connection) -> None:
        self.pool = pool
        self.conn = conn
        # The parser holds this response's bound callbacks: a reference cycle, broken when the
        # response is released or closed so that reference counting frees both at once (left
        # to the cyclic collector, one per upstream call was most of its garbage).
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.until_eof = False
        self.done = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: zlib._Decompress | None = None
        self._released = False
        self._informational = False

    # ---- httptools callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        assert self.parser is not None  # callbacks run inside parser.feed_data
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # informational (103 Early Hints, ...): the answer follows
            self._informational = True
            self.headers = {}
            return
        self.status = status
        self.headers_done = True
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.until_eof = not chunked and "content-length" not in self.headers
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif encoding not in ("identity", ""):
            self.fail(MalformedResponse(f"unsupported content-encoding {encoding!r}"))
            self.conn.abort()
            return
        self._wake()

    def on_body(self, chunk: bytes) -> None:
        if self._decoder is not None:
            chunk = self._decoder.decompress(chunk)
            if not chunk:
                return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > HIGH_WATER and not self._paused and self.conn.transport is not None:
            self._paused = True
            self.conn.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self.done = True
        parser = self.parser
        self.keep_alive = parser is not None and parser.should_keep_alive() and not self.until_eof
        self._wake()

    # ---- waiting ------------------------------------------------------------------------

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.error = error
            self.done = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = self.conn.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _headers(self) -> None:
        while not self.headers_done and not self.done:
            await self._wait()
        if self.error is not None:
            raise self.error

    async def read(self) -> bytes:
        """The whole body (read through ``iter_chunks``, so flow control resumes a paused
        socket); the connection goes back to the pool."""
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive (bounded buffering); releases the connection at the end."""
        try:
            while True:
                while self._chunks:
                    chunk = self._chunks.popleft()
                    self._buffered -= len(chunk)
                    if self._paused and self._buffered < HIGH_WATER // 2:
                        self._paused = False
                        if self.conn.transport is not None and not self.conn.closed:
                            self.conn.transport.resume_reading()
                    yield chunk
                if self.done:
                    break
                await self._wait()
        except BaseException:
            self.close()
            raise
        if self.error is not None:
            self.close()
            raise self.error
        self.release()

    def release(self) -> None:
        """Done with the response: reuse the connection if the whole body was read, else close."""
        if self._released:
            return
        self._released = True
        self.conn.response = None
        self.parser = None
        if self.done and self.error is None and self.keep_alive and not self.conn.closed:
            self.pool._put_back(self.conn)
        else:
            self.conn.abort()

    def close(self) -> None:
        """Abandon the response (and its connection)."""
        if not self._released:
            self._released = True
            self.conn.response = None
            self.parser = None
            self.conn.abort()


class ConnectionPool:
    """Keep-alive connections to one origin (``http://host:port`` or ``https://...``)."""

    def __init__(
        self,
        origin: str,
        *,
        connect_timeout: float = 10.0,
        keepalive_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.connect_timeout = connect_timeout
        self.keepalive_seconds = keepalive_seconds
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._closed = False

    async def request(
        self, method: str, target: str, headers: bytes, body: bytes = b""
    ) -> Response:
        """Send a request; returns once the status line and headers are in.

        ``headers`` are pre-encoded ``Name: value\\r\\n`` lines (Host and Content-Length are
        added here). Read the body with ``read()`` or ``iter_chunks()``, or ``close()`` it.
        """
        conn = await self._acquire()
        response = Response(self, conn)
        conn.response = response
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode("latin-1")
        assert conn.transport is not None
        conn.transport.write(head + headers + b"\r\n" + body)
        try:
            await response._headers()
        except BaseException:
            response.close()
            raise
        return response

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise ConnectionError("the connection pool is closed")
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # most recently used: least likely to be closed by the server
            if not conn.closed and now - conn.idle_since < self.keepalive_seconds:
                return conn
            conn.abort()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            _, conn = await loop.create_connection(
                lambda: _Connection(loop, self),
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl else None,
            )
        self._open.add(conn)
        return conn

    def _put_back(self, conn: _Connection) -> None:
        if self._closed:
            conn.abort()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
        self._open.clear()
        self._idle.clear()
