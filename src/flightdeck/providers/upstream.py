"""What every HTTP provider shares: one keep-alive pool per deployment, a POST that maps failures
to ``UpstreamError``, server-sent events read off a response, and a stream translated on the way.

Subclasses say where (``url``), who they are (``auth_headers``, ``default_headers``) and what
they send; the wire format lives in ``flightdeck.wire``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from flightdeck.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers.base import SSE_DONE, ChatStream, Provider, sse_event
from flightdeck.providers.http1 import ConnectionPool, MalformedResponse, Response
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
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(
                f"model {deployment.name!r}: base_url must be an http(s) URL, got {self.base_url!r}"
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

    async def post(self, path: str, payload: bytes) -> Response:
        """POST ``payload``; returns once a 2xx status and headers are in, else raises."""
        try:
            headers = self.header_block + outgoing_headers()  # traceparent of the attempt span
            resp = await self.pool.request("POST", self.target(path), headers, payload)
        except (OSError, MalformedResponse) as exc:
            raise UpstreamUnavailable(f"cannot reach {self.base_url}: {reason(exc)}") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self.base_url} did not answer in time") from exc
        if resp.status >= 300:
            try:
                raw = await resp.read()
            except (OSError, MalformedResponse):
                raw = b""
            if resp.status < 400:  # never followed: a POST must not turn into a GET elsewhere
                where = resp.headers.get("location", "elsewhere")
                raise UpstreamError(
                    f"upstream redirected ({resp.status}) to {where}: set base_url to the "
                    "final URL",
                    upstream_status=resp.status,
                )
            raise upstream_error(resp.status, raw, resp.headers.get("retry-after"))
        return resp

    async def post_for_body(self, path: str, payload: bytes) -> bytes:
        """POST ``payload`` and read the whole 2xx reply body."""
        resp = await self.post(path, payload)
        try:
            return await resp.read()
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream connection broke: {reason(exc)}") from exc

    async def post_for_json(self, path: str, payload: bytes) -> dict[str, Any]:
        """POST ``payload``; the reply as a JSON object (UpstreamError if it is not one)."""
        raw = await self.post_for_body(path, payload)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamError("upstream answered with a body that is not JSON") from None
        if not isinstance(data, dict):
            raise UpstreamError("upstream answered with JSON that is not an object")
        return data


class HTTPEventStream(ChatStream):
    """Reads server-sent events off an upstream response, one complete event at a time."""

    def __init__(self, resp: Response) -> None:
        self.resp = resp

    async def events(self) -> AsyncIterator[bytes]:
        lines: list[bytes] = []
        pending = b""
        try:
            async for chunk in self.resp.iter_chunks():
                data = pending + chunk if pending else chunk
                start = 0
                while (end := data.find(b"\n", start)) >= 0:
                    line = data[start : end + 1]
                    start = end + 1
                    if line == b"\n" or line == b"\r\n":
                        if lines:
                            yield b"".join(lines) + b"\n"
                            lines.clear()
                    else:
                        lines.append(line)
                pending = data[start:]
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream stream broke: {reason(exc)}") from exc
        if lines or pending.strip():
            raise UpstreamError("upstream stream ended in the middle of an event")

    async def aclose(self) -> None:
        self.resp.close()


class TranslatedEventStream(ChatStream):
    """A vendor's event stream read off ``resp`` and yielded as chat-completion chunks.

    ``translator`` is one of ``flightdeck.wire``'s state machines (``ToChat``); ``notes`` counts
    what the translation could not carry.
    """

    def __init__(self, resp: Response, translator: ToChat, notes: Notes | None = None) -> None:
        self.resp = resp
        self.translator = translator
        self.notes = notes or Notes()

    @property
    def dropped_thinking(self) -> int:
        return self.notes.dropped_thinking

    async def events(self) -> AsyncIterator[bytes]:
        decoder = SSEDecoder()
        translate = self.translator.feed
        try:
            async for chunk in self.resp.iter_chunks():
                for event in decoder.feed(chunk):
                    for out in translate(parse_event(event.data)):
                        yield sse_event(orjson.dumps(out))
            decoder.close()
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream stream broke: {reason(exc)}") from exc
        except IncompleteEvent as exc:
            raise UpstreamError(f"upstream stream broke: {exc}") from None
        for out in self.translator.finish():
            yield sse_event(orjson.dumps(out))
        yield SSE_DONE

    async def aclose(self) -> None:
        self.resp.close()


def parse_event(data: bytes) -> dict[str, Any]:
    """One SSE event's data as a JSON object; UpstreamError if it is not one."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream sent an event that is not JSON") from None
    if not isinstance(event, dict):
        raise UpstreamError("upstream sent an event that is not a JSON object")
    return event


def upstream_error(status: int, raw: bytes, retry_after: str | None) -> UpstreamError:
    """Map an upstream HTTP error to the error the client should see, keeping its reason.

    Reads the OpenAI and Anthropic error shapes (``error.message``, ``error.type``) and
    Google's (``error.message``, ``error.status``).
    """
    message, err_type, code = _error_fields(raw)
    why = message or f"upstream returned HTTP {status}"
    wait = _parse_retry_after(retry_after)
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


def _error_fields(raw: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace").strip()
        return (text[:500] or None), None, None
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


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: rare from model APIs; fall back to our own backoff


def reason(exc: BaseException) -> str:
    """A short reason for a transport failure, for error messages."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__
