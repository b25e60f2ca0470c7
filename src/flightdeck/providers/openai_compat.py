"""The ``openai`` provider: any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from flightdeck.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from flightdeck.core.settings import ModelDeployment
from flightdeck.providers.base import ChatStream, Provider, UpstreamReply

# Upstream statuses a client caused (its request was wrong): passed through unchanged.
CLIENT_STATUSES = frozenset({400, 404, 409, 413, 415, 422})


class OpenAIProvider(Provider):
    """One aiohttp session per deployment, pooled keep-alive connections."""

    kind = "openai"

    def __init__(self, deployment: ModelDeployment) -> None:
        super().__init__(deployment)
        if not deployment.base_url:
            raise UpstreamError(f"model {deployment.name!r}: provider openai needs base_url")
        self.base_url = deployment.base_url.rstrip("/")
        self.headers = {"Content-Type": "application/json", **deployment.headers}
        self.headers.update(self.auth_headers())
        self._session: aiohttp.ClientSession | None = None

    def auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            json_serialize=lambda o: orjson.dumps(o).decode(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable(f"deployment {self.deployment.name!r} is not started")
        return self._session

    def upstream_body(self, body: dict[str, Any]) -> bytes:
        return orjson.dumps({**body, "model": self.deployment.upstream_model})

    async def _post(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        try:
            resp = await self.session.post(
                self.url(path), data=self.upstream_body(body), headers=self.headers
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise UpstreamUnavailable(f"cannot reach {self.base_url}: {_reason(exc)}") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self.base_url} did not answer in time") from exc
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, OSError):
                raw = b""
            finally:
                resp.release()
            raise upstream_error(resp.status, raw, resp.headers.get("Retry-After"))
        return resp

    async def _post_json(self, path: str, body: dict[str, Any]) -> UpstreamReply:
        resp = await self._post(path, body)
        try:
            return UpstreamReply(await resp.read())
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"upstream connection broke: {_reason(exc)}") from exc
        finally:
            resp.release()

    async def chat(self, body: dict[str, Any]) -> UpstreamReply:
        return await self._post_json("chat/completions", body)

    async def embeddings(self, body: dict[str, Any]) -> UpstreamReply:
        return await self._post_json("embeddings", body)

    async def open_chat_stream(self, body: dict[str, Any]) -> ChatStream:
        return HTTPEventStream(await self._post("chat/completions", body))


class HTTPEventStream(ChatStream):
    """Reads server-sent events off an aiohttp response, one complete event at a time."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def events(self) -> AsyncIterator[bytes]:
        buf: list[bytes] = []
        try:
            async for line in self.resp.content:
                if line in (b"\n", b"\r\n"):
                    if buf:
                        yield b"".join(buf) + b"\n"
                        buf.clear()
                    continue
                buf.append(line)
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"upstream stream broke: {_reason(exc)}") from exc
        if buf:
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
