"""Fetch stage: bytes of one document from HTTP(S), a local path or an fsspec URL.

HTTP uses one pooled aiohttp session per worker with many requests in flight. Every hop is
guarded: the host is resolved and refused when any address is private, loopback, link-local,
multicast or reserved (unless allowed), redirects are followed by hand so each Location is
checked again, and responses are refused for size, content type and ``X-Robots-Tag: noai``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import fsspec
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from flightdeck.core.addresses import is_public_address
from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.options import FetchOptions

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOAI_DIRECTIVES = frozenset({"noai", "noimageai"})
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    """The bytes of one document and what the server said about them."""

    data: bytes
    content_type: str | None
    final_url: str


class PrivateAddressRefused(OSError):
    """Raised by the resolver so aiohttp never connects to a refused address."""


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver, then refuses non-public addresses."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            refused = [r["host"] for r in results if not is_public_address(r["host"])]
            if refused:
                raise PrivateAddressRefused(f"{host} resolves to non-public address {refused[0]}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def robots_forbid(values: list[str]) -> bool:
    """True when an ``X-Robots-Tag`` header says noai or noimageai (for any user agent)."""
    for value in values:
        for part in value.split(","):
            directive = part.rsplit(":", 1)[-1].strip().lower()
            if directive in _NOAI_DIRECTIVES:
                return True
    return False


class Fetcher:
    """One pooled HTTP session plus local and fsspec reads; use as an async context manager."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.options.concurrency,
            limit_per_host=self.options.concurrency,
            resolver=GuardedResolver(self.options.allow_private_addresses),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.options.timeout_s, sock_connect=self.options.timeout_s
            ),
            headers={"User-Agent": self.options.user_agent},
            auto_decompress=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, location: str) -> Fetched:
        """Bytes of ``location``; raises :class:`DocumentFailed` with the reason."""
        scheme = urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return await self._fetch_http_with_retries(location)
        if not location:
            raise DocumentFailed(FailureReason.BAD_URL, "empty location")
        return await asyncio.to_thread(read_path, location, self.options.max_bytes)

    async def _fetch_http_with_retries(self, url: str) -> Fetched:
        attempt = 0
        while True:
            try:
                return await self._fetch_http(url)
            except DocumentFailed as failed:
                if not failed.reason.retryable or attempt >= self.options.retries:
                    raise
            attempt += 1
            await asyncio.sleep(self.options.backoff_s * 2 ** (attempt - 1))

    async def _fetch_http(self, url: str) -> Fetched:
        assert self._session is not None, "use Fetcher as an async context manager"
        for _hop in range(self.options.max_redirects + 1):
            self._check_url(url)
            try:
                async with self._session.get(url, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return await self._read_response(url, response)
            except DocumentFailed:
                raise
            except TimeoutError as exc:
                raise DocumentFailed(
                    FailureReason.TIMEOUT, f"no answer within {self.options.timeout_s}s"
                ) from exc
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, PrivateAddressRefused):
                    raise DocumentFailed(FailureReason.PRIVATE_ADDRESS, str(exc.os_error)) from exc
                raise DocumentFailed(FailureReason.CONNECTION, str(exc)) from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise DocumentFailed(
                    FailureReason.CONNECTION, f"{type(exc).__name__}: {exc}"
                ) from exc
        raise DocumentFailed(
            FailureReason.TOO_MANY_REDIRECTS, f"more than {self.options.max_redirects}"
        )

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DocumentFailed(FailureReason.BAD_URL, f"refusing {url!r}")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: GuardedResolver checks every address it resolves to
        if not self.options.allow_private_addresses and not is_public_address(str(literal)):
            raise DocumentFailed(FailureReason.PRIVATE_ADDRESS, f"{parts.hostname} is not public")

    async def _read_response(self, url: str, response: aiohttp.ClientResponse) -> Fetched:
        status = response.status
        if status >= 500 or status == 429:
            raise DocumentFailed(
                FailureReason.HTTP_5XX if status >= 500 else FailureReason.CONNECTION,
                f"HTTP {status}",
            )
        if status >= 400:
            raise DocumentFailed(FailureReason.HTTP_4XX, f"HTTP {status}")
        headers: Any = response.headers
        if self.options.respect_noai and robots_forbid(headers.getall("X-Robots-Tag", [])):
            raise DocumentFailed(FailureReason.ROBOTS_NOAI, "X-Robots-Tag forbids AI use")
        content_type = response.headers.get("Content-Type")
        if content_type and not content_type.lower().startswith(self.options.allowed_content_types):
            raise DocumentFailed(FailureReason.WRONG_CONTENT_TYPE, content_type)
        limit = self.options.max_bytes
        if response.content_length is not None and response.content_length > limit:
            raise DocumentFailed(
                FailureReason.TOO_LARGE, f"{response.content_length} > {limit} bytes"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise DocumentFailed(FailureReason.TOO_LARGE, f"more than {limit} bytes")
            chunks.append(chunk)
        return Fetched(b"".join(chunks), content_type, url)


def read_path(location: str, max_bytes: int) -> Fetched:
    """Bytes of a local path (or ``file://``) or an fsspec URL such as ``s3://bucket/key``."""
    try:
        if "://" not in location or location.startswith("file://"):
            path = location.removeprefix("file://")
            if os.path.getsize(path) > max_bytes:
                raise DocumentFailed(FailureReason.TOO_LARGE, f"more than {max_bytes} bytes")
            with open(path, "rb") as handle:
                return Fetched(handle.read(), None, location)
        with fsspec.open(location, "rb") as remote:
            data = remote.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise DocumentFailed(FailureReason.NOT_FOUND, location) from exc
    except IsADirectoryError as exc:
        raise DocumentFailed(FailureReason.BAD_URL, f"{location} is a directory") from exc
    if len(data) > max_bytes:
        raise DocumentFailed(FailureReason.TOO_LARGE, f"more than {max_bytes} bytes")
    return Fetched(data, None, location)
