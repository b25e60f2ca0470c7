"""What every HTTP provider shares: one keep-alive pool per deployment, a POST that maps failures
to ``UpstreamError``, server-sent events read off a response, and a stream translated on the way.

Subclasses say where (``url``), who they are (``auth_headers``, ``default_headers``) and what
they send; the wire format lives in ``flightdeck.wire``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from flightdeck.core.errors import (
    InvalidUpstreamReply,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from flightdeck.core.redact import redact, redact_url, summarize
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers import replies
from flightdeck.providers.base import SSE_DONE, ChatStream, Provider, sse_event
from flightdeck.providers.http1 import ConnectionPool, MalformedResponse, Response
from flightdeck.providers.retry_hints import retry_after_seconds
from flightdeck.telemetry.tracing import outgoing_headers
from flightdeck.wire.chat import Notes, ToChat
from flightdeck.wire.sse import IncompleteEvent, SSEDecoder

# Upstream statuses a client caused (its request was wrong): passed through unchanged.
CLIENT_STATUSES = frozenset({400, 404, 409, 413, 415, 422})


class HTTPProvider(Provider):
    """A deployment reached over HTTP(S) with ``providers.http1``'s pooled client."""

    default_base_url: ClassVar[str | None] = None

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        base_url = deployment.base_url or self.default_base_url
        if not base_url:
            raise UpstreamError(f"model {deployment.name!r}: provider {self.kind} needs base_url")
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact_url(self.base_url)  # for errors and logs: no userinfo, no keys
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(
                f"model {deployment.name!r}: base_url must be an http(s) URL, "
                f"got {self.shown_url!r}"
            )
        self.origin = f"{parts.scheme}://{parts.netloc}"
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        headers.update(self.default_headers())
        headers.update(deployment.headers)
        headers.update(self.auth_headers())
        self.header_block = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self._targets: dict[str, str] = {}
        self._pool: ConnectionPool | None = None

    def default_headers(self) -> dict[str, str]:
        """Headers the wire format needs (config ``headers`` may override them)."""
        return {}

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def target(self, path: str) -> str:
        """The request target (path and query) of ``url(path)`` on this deployment's origin."""
        target = self._targets.get(path)
        if target is None:
            parts = urlsplit(self.url(path))
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            self._targets[path] = target
        return target

    async def start(self) -> None:
        self._pool = ConnectionPool(self.origin, connect_timeout=10.0, keepalive_seconds=30.0)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise UpstreamUnavailable(f"deployment {self.deployment.name!r} is not started")
        return self._pool

    async def post(self, path: str, payload: bytes, *, stream: bool = False) -> Response:
        """POST ``payload``; returns once a 2xx status and headers are in, else raises.

        ``stream``: the reply must be ``text/event-stream`` (InvalidUpstreamReply otherwise).
        """
        try:
            headers = self.header_block + outgoing_headers()  # traceparent of the attempt span
            resp = await self.pool.request("POST", self.target(path), headers, payload)
        except (OSError, MalformedResponse) as exc:
            raise UpstreamUnavailable(
                f"cannot reach {self.shown_url}: {redact(reason(exc))}"
            ) from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self.shown_url} did not answer in time") from exc
        if resp.status >= 300:
            raw = await self._read_quietly(resp)
            if resp.status < 400:  # never followed: a POST must not turn into a GET elsewhere
                where = redact_url(resp.headers.get("location", "elsewhere"))
                raise UpstreamError(
                    f"upstream redirected ({resp.status}) to {where}: set base_url to the "
                    "final URL",
                    upstream_status=resp.status,
                )
            raise upstream_error(resp.status, raw, resp.headers)
        if stream and not replies.is_event_stream(resp.headers.get("content-type")):
            raw = await self._read_quietly(resp)
            raise InvalidUpstreamReply(
                replies.describe(
                    resp.status, resp.headers.get("content-type"), raw, "text/event-stream"
                )
            )
        return resp

    @staticmethod
    async def _read_quietly(resp: Response) -> bytes:
        try:
            return await resp.read()
        except (OSError, MalformedResponse):
            return b""

    async def post_for_body(self, path: str, payload: bytes) -> tuple[Response, bytes]:
        """POST ``payload`` and read the whole 2xx reply body."""
        resp = await self.post(path, payload)
        try:
            return resp, await resp.read()
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream connection broke: {redact(reason(exc))}") from exc

    async def post_for_json(
        self, path: str, payload: bytes, shape: replies.ShapeCheck, expected: str
    ) -> dict[str, Any]:
        """POST ``payload``; the reply as a JSON object of ``shape`` (``expected`` names it in
        the error), else InvalidUpstreamReply (see ``flightdeck.providers.replies``)."""
        resp, raw = await self.post_for_body(path, payload)
        return replies.json_reply(
            resp.status, resp.headers.get("content-type"), raw, shape, expected
        )


class HTTPEventStream(ChatStream):
    """Chat-completion chunks read off an OpenAI-compatible stream, each checked
    (``replies.chat_chunk``) and forwarded as one ``data: ...`` block; comments are dropped,
    ``[DONE]`` passes. A chunk that is not JSON of that shape is an InvalidUpstreamReply."""

    def __init__(self, resp: Response) -> None:
        self.resp = resp

    async def events(self) -> AsyncIterator[bytes]:
        decoder = SSEDecoder()
        chunks = 0
        try:
            async for chunk in self.resp.iter_chunks():
                for event in decoder.feed(chunk):
                    if event.data == b"[DONE]":
                        if not chunks:
                            raise InvalidUpstreamReply(
                                "upstream ended the stream before any chunk (expected "
                                "chat.completion.chunk events before [DONE])"
                            )
                        yield SSE_DONE
                        continue
                    replies.event_data(event.data, replies.chat_chunk, "a chat.completion.chunk")
                    chunks += 1
                    yield sse_event(event.data)
            decoder.close()
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream stream broke: {redact(reason(exc))}") from exc
        except IncompleteEvent as exc:
            raise UpstreamError(f"upstream stream broke: {exc}") from None

    async def aclose(self) -> None:
        self.resp.close()


class TranslatedEventStream(ChatStream):
    """A vendor's event stream read off ``resp`` and yielded as chat-completion chunks.

    ``translator`` is one of ``flightdeck.wire``'s state machines (``ToChat``); ``notes`` counts
    what the translation could not carry.
    """

    def __init__(
        self,
        resp: Response,
        translator: ToChat,
        notes: Notes | None = None,
        *,
        shape: replies.ShapeCheck,
        expected: str,
    ) -> None:
        self.resp = resp
        self.translator = translator
        self.notes = notes or Notes()
        self.shape = shape
        self.expected = expected

    @property
    def dropped_thinking(self) -> int:
        return self.notes.dropped_thinking

    async def events(self) -> AsyncIterator[bytes]:
        decoder = SSEDecoder()
        translate = self.translator.feed
        try:
            async for chunk in self.resp.iter_chunks():
                for event in decoder.feed(chunk):
                    data = replies.event_data(event.data, self.shape, self.expected)
                    try:
                        translated = translate(data)
                    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                        raise InvalidUpstreamReply(
                            "upstream sent a stream event the gateway cannot read: "
                            f"'{summarize(event.data, replies.PREVIEW_CHARS)}'"
                        ) from None
                    for out in translated:
                        yield sse_event(orjson.dumps(out))
            decoder.close()
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream stream broke: {redact(reason(exc))}") from exc
        except IncompleteEvent as exc:
            raise UpstreamError(f"upstream stream broke: {exc}") from None
        for out in self.translator.finish():
            yield sse_event(orjson.dumps(out))
        yield SSE_DONE

    async def aclose(self) -> None:
        self.resp.close()


def upstream_error(status: int, raw: bytes, headers: Mapping[str, str]) -> UpstreamError:
    """Map an upstream HTTP error to the error the client should see, keeping its reason.

    Reads the OpenAI and Anthropic error shapes (``error.message``, ``error.type``) and
    Google's (``error.message``, ``error.status``); the reason is a redacted summary of at
    most ``SUMMARY_CHARS`` characters, never the raw body. How long to wait comes from every
    form of rate-limit hint (``flightdeck.providers.retry_hints``).
    """
    data = _json_or_none(raw)
    message, err_type, code = _error_fields(raw, data)
    why = summarize(message) if message else f"upstream returned HTTP {status}"
    wait = retry_after_seconds(headers, rate_limited=status == 429, body=data)
    if status in CLIENT_STATUSES:
        return UpstreamError(
            why,
            status=status,
            upstream_status=status,
            error_type=err_type or "invalid_request_error",
            code=code,
        )
    if status == 429:
        return UpstreamError(
            why,
            status=429,
            upstream_status=429,
            retry_after=wait,
            error_type="rate_limit_error",
            code=code or "rate_limit_exceeded",
        )
    if status in (401, 403):
        return UpstreamError(
            f"upstream rejected the gateway's credentials: {why}",
            status=502,
            upstream_status=status,
        )
    if status == 408:
        return UpstreamTimeout(f"upstream timed out: {why}", upstream_status=status)
    return UpstreamError(
        f"upstream error {status}: {why}", upstream_status=status, retry_after=wait
    )


GOOGLE_TYPES = {"INVALID_ARGUMENT": "invalid_request_error", "NOT_FOUND": "invalid_request_error"}


def _json_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _error_fields(raw: bytes, data: Any) -> tuple[str | None, str | None, str | None]:
    if data is None:
        text = raw.decode("utf-8", "replace").strip()
        return (text or None), None, None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # Google APIs may wrap the error in a one-element array
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        if isinstance(err.get("status"), str):  # google.rpc.Status
            return str(err.get("message") or ""), GOOGLE_TYPES.get(err["status"]), err["status"]
        code = err.get("code")
        return str(err.get("message") or ""), err.get("type"), str(code) if code else None
    if isinstance(err, str):
        return err, None, None
    return None, None, None


def reason(exc: BaseException) -> str:
    """A short reason for a transport failure, for error messages."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__
