"""The ``openai`` provider: any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson

from flightdeck.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers.base import ChatStream, Provider, UpstreamReply
from flightdeck.providers.http1 import ConnectionPool, MalformedResponse, Response

# Upstream statuses a client caused (its request was wrong): passed through unchanged.
CLIENT_STATUSES = frozenset({400, 404, 409, 413, 415, 422})


class OpenAIProvider(Provider):
    """One keep-alive connection pool per deployment (flightdeck.providers.http1)."""

    kind = "openai"

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        if not deployment.base_url:
            raise UpstreamError(f"model {deployment.name!r}: provider openai needs base_url")
        self.base_url = deployment.base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(
                f"model {deployment.name!r}: base_url must be an http(s) URL, got {self.base_url!r}"
            )
        self.origin = f"{parts.scheme}://{parts.netloc}"
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        headers.update(deployment.headers)
        headers.update(self.auth_headers())
        self.header_block = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self._targets: dict[str, str] = {}
        self._pool: ConnectionPool | None = None

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

    def upstream_body(self, body: dict[str, Any]) -> bytes:
        return orjson.dumps({**body, "model": self.deployment.upstream_model})

    async def _post(self, path: str, body: dict[str, Any]) -> Response:
        try:
            resp = await self.pool.request(
                "POST", self.target(path), self.header_block, self.upstream_body(body)
            )
        except (OSError, MalformedResponse) as exc:
            raise UpstreamUnavailable(f"cannot reach {self.base_url}: {_reason(exc)}") from exc
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

    async def _post_json(self, path: str, body: dict[str, Any]) -> UpstreamReply:
        resp = await self._post(path, body)
        try:
            return UpstreamReply(await resp.read())
        except (OSError, MalformedResponse) as exc:
            raise UpstreamError(f"upstream connection broke: {_reason(exc)}") from exc

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        return await self._post_json("chat/completions", body)

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        return await self._post_json("embeddings", body)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        return HTTPEventStream(await self._post("chat/completions", body))


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
            raise UpstreamError(f"upstream stream broke: {_reason(exc)}") from exc
        if lines or pending.strip():
            raise UpstreamError("upstream stream ended in the middle of an event")

    async def aclose(self) -> None:
        self.resp.close()


def upstream_error(status: int, raw: bytes, retry_after: str | None) -> UpstreamError:
    """Map an upstream HTTP error to the error the client should see, keeping its reason."""
    message, err_type, code = _error_fields(raw)
    reason = message or f"upstream returned HTTP {status}"
    wait = _parse_retry_after(retry_after)
    if status in CLIENT_STATUSES:
        return UpstreamError(
            reason,
            status=status,
            upstream_status=status,
            error_type=err_type or "invalid_request_error",
            code=code,
        )
    if status == 429:
        return UpstreamError(
            reason,
            status=429,
            upstream_status=429,
            retry_after=wait,
            error_type="rate_limit_error",
            code=code or "rate_limit_exceeded",
        )
    if status in (401, 403):
        return UpstreamError(
            f"upstream rejected the gateway's credentials: {reason}",
            status=502,
            upstream_status=status,
        )
    if status == 408:
        return UpstreamTimeout(f"upstream timed out: {reason}", upstream_status=status)
    return UpstreamError(
        f"upstream error {status}: {reason}", upstream_status=status, retry_after=wait
    )


def _error_fields(raw: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace").strip()
        return (text[:500] or None), None, None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__
