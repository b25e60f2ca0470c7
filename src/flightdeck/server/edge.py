"""Limits at the edge: one body-size limit and one body-read deadline for every route.

``EdgeLimits`` wraps the whole ASGI app (gateway, assistant, search, admin, feedback, web), so
the limits hold before any route parses a body or authenticates its caller:

- a ``content-length`` over ``server.max_body_bytes`` is answered 413 at once, unread;
- a body without a length (chunked) is counted as it streams; the read that crosses the limit
  fails, and the response becomes 413 whatever the route made of the failure;
- a body that is not complete ``server.body_timeout_seconds`` after the request began fails
  the same way with 408;
- more than ``server.max_header_count`` headers, or more than ``server.max_header_bytes`` of
  them, is answered 431 (the HTTP protocol, ``server/protocol.py``, also refuses them while
  they arrive, and drops connections whose headers are slow).

Every refusal closes the connection (``connection: close``), as does any response sent before
its request's body was read to the end, so a client cannot keep a half-sent body open. Errors
have the OpenAI error shape (the Anthropic shape under ``/v1/messages``).
"""

from __future__ import annotations

import time

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flightdeck.core.errors import FlightdeckError, PayloadTooLarge, RequestError
from flightdeck.core.settings import ServerSettings


class RequestTimeout(RequestError):
    """The request body did not arrive within ``server.body_timeout_seconds``."""

    status = 408
    code = "request_timeout"


class HeadersTooLarge(RequestError):
    """Too many request headers, or too many bytes of them."""

    status = 431
    code = "request_header_fields_too_large"


class EdgeLimits:
    """ASGI middleware enforcing the edge limits of ``ServerSettings`` (see the module doc)."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout_seconds
        self.max_header_count = settings.max_header_count
        self.max_header_bytes = settings.max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await send_error(scope, send, refused)
            return
        if not has_body(scope):  # GET and friends: nothing to bound, nothing to wrap
            await self.app(scope, receive, send)
            return
        guard = BodyGuard(scope, receive, self.max_body, self.body_timeout)
        await self.app(scope, guard.receive, guard.wrap_send(send))

    def refusal(self, scope: Scope) -> FlightdeckError | None:
        """The error to answer before the app runs, if the request's head is over a limit."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if len(headers) > self.max_header_count:
            return HeadersTooLarge(f"more than {self.max_header_count} request headers")
        if sum(len(k) + len(v) + 4 for k, v in headers) > self.max_header_bytes:
            return HeadersTooLarge(f"request headers are larger than {self.max_header_bytes} bytes")
        length = header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                return RequestError("content-length must be a non-negative integer")
            if int(length) > self.max_body:
                return PayloadTooLarge(f"request body is larger than {self.max_body} bytes")
        return None


class BodyGuard:
    """One request's ``receive`` (counted, with a deadline) and ``send`` (which turns the
    response into the refusal once the body broke a limit)."""

    def __init__(self, scope: Scope, receive: Receive, max_body: int, timeout: float) -> None:
        self.scope = scope
        self.inner = receive
        self.max_body = max_body
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.received = 0
        self.complete = not has_body(scope)
        self.error: FlightdeckError | None = None
        self.started = False
        self.swallow = False  # the app's own response, replaced by the refusal

    async def receive(self) -> Message:
        if self.error is not None:
            raise self.error
        if self.complete:  # after the body: disconnect notices, unbounded in time
            return await self.inner()
        message: Message | None = None
        with anyio.move_on_after(self.deadline - time.monotonic()):
            message = await self.inner()
        if message is None:
            self.error = RequestTimeout(
                f"the request body did not arrive within {self.timeout:g} seconds"
            )
            raise self.error
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body:
                self.error = PayloadTooLarge(f"request body is larger than {self.max_body} bytes")
                raise self.error
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True
        return message

    def wrap_send(self, send: Send) -> Send:
        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.started:
                self.started = True
                if self.error is not None and message["status"] != self.error.status:
                    await send_error(self.scope, send, self.error)
                    self.swallow = True
                    return
                if not self.complete:  # do not wait for the rest of a body nobody reads
                    message = {**message, "headers": [*message["headers"], CLOSE]}
            if self.swallow:
                return
            await send(message)

        return guarded


CLOSE = (b"connection", b"close")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1").strip())
    return None


def has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    if length is not None:
        return length != "0"
    return header(scope, b"transfer-encoding") is not None


async def send_error(scope: Scope, send: Send, exc: FlightdeckError) -> None:
    """``exc`` as a complete response that closes the connection."""
    if scope.get("path", "").startswith("/v1/messages"):
        kind = {413: "request_too_large", 431: "invalid_request_error"}.get(exc.status)
        body = orjson.dumps(
            {
                "type": "error",
                "error": {"type": kind or "invalid_request_error", "message": exc.message},
            }
        )
    else:
        body = orjson.dumps(
            {"error": {"message": exc.message, "type": exc.type, "param": None, "code": exc.code}}
        )
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                CLOSE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
