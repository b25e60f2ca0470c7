"""uvicorn's HTTP/1.1 protocol with limits on request heads: size, count and time.

uvicorn's httptools protocol collects request lines and headers without a bound, and waits for
them without a deadline: a client that sends one header byte every few seconds (slowloris), or
nothing at all, holds a connection for ever. ``EdgeHttpToolsProtocol`` answers 431 when the
head grows over ``server.max_header_bytes`` or ``server.max_header_count`` headers, and 408
(then closes) when a connection or a request's head is not complete within
``server.header_timeout_seconds``. Bodies are bounded by ``server/edge.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from flightdeck.core.settings import ServerSettings

DEFAULTS = ServerSettings()  # for a plain uvicorn.Config
STATUS_TEXT = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class EdgeConfig(uvicorn.Config):
    """uvicorn's configuration plus the head limits of ``ServerSettings`` (picklable, for
    spawned workers). ``h11_max_incomplete_event_size`` is set too, for the h11 protocol."""

    def __init__(self, app: Any, server: ServerSettings, **kwargs: Any) -> None:
        kwargs.setdefault("http", EdgeHttpToolsProtocol)
        kwargs.setdefault("h11_max_incomplete_event_size", server.max_header_bytes)
        super().__init__(app, **kwargs)
        self.header_timeout_seconds = server.header_timeout_seconds
        self.max_header_bytes = server.max_header_bytes
        self.max_header_count = server.max_header_count


class EdgeHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing oversized heads and dropping slow ones."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout: float = getattr(
            config, "header_timeout_seconds", DEFAULTS.header_timeout_seconds
        )
        self.max_head_bytes: int = getattr(config, "max_header_bytes", DEFAULTS.max_header_bytes)
        self.max_head_count: int = getattr(config, "max_header_count", DEFAULTS.max_header_count)
        self.head_bytes = 0
        self.head_count = 0
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0
        self.head_count = 0
        self.arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self.count_head(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count_head(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.disarm_head_timer()
        super().on_headers_complete()

    def count_head(self, size: int, headers: int) -> None:
        """Raise (stopping the parser; ``send_400_response`` answers) once over a limit."""
        self.head_bytes += size
        self.head_count += headers
        if self.head_count > self.max_head_count:
            self.refused = (431, f"more than {self.max_head_count} request headers")
        elif self.head_bytes > self.max_head_bytes:
            self.refused = (431, f"request head larger than {self.max_head_bytes} bytes")
        if self.refused is not None:
            raise ValueError(self.refused[1])

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request the parser refused; ours when a head limit did."""
        if self.refused is None:
            super().send_400_response(msg)
            return
        self.send_and_close(*self.refused)

    def arm_head_timer(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.header_timeout, self.head_timed_out)

    def disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served (its head was complete)
        self.send_and_close(408, f"request headers not received within {self.header_timeout:g}s")

    def send_and_close(self, status: int, message: str) -> None:
        body = message.encode("ascii", "replace")
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, STATUS_TEXT[status]),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        if not self.transport.is_closing():
            self.transport.write(b"".join(head) + body)
            self.transport.close()
