"""Fetch stage: bytes of one document from HTTP(S), a local path or an allowed object store.

Which fetcher reads a location is decided by an allowlist (:func:`route_location`), never by
handing the string to fsspec: ``http``/``https`` go to the guarded HTTP client, local paths
are read only when the SOURCE itself is local (``FetchOptions.local_paths``), and any other
scheme only when the operator listed it (``--allow-scheme s3``). Chained fsspec URLs
(``simplecache::http://...``) and every other protocol (``ftp``, ``webhdfs``, ``data``, ...)
are refused with ``scheme_not_allowed``: fsspec's own clients would connect without the guard.

HTTP uses one pooled aiohttp session per worker with many requests in flight. Every hop is
guarded: the host is resolved and refused when any address is private, loopback, link-local,
multicast or reserved (unless allowed; the policy is ``core/addresses.py``), redirects are
followed by hand so each Location is checked again, and responses are refused for size,
content type and ``X-Robots-Tag: noai``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import stat
from dataclasses import dataclass
from enum import StrEnum
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
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+._-]*):")  # "_": fsspec names (arrow_hdfs)


class Route(StrEnum):
    """Which reader fetches a location."""

    HTTP = "http"  # the guarded aiohttp client
    LOCAL = "local"  # open() on a regular file
    OBJECT_STORE = "object_store"  # fsspec, for a scheme the operator allowed


def route_location(location: str, options: FetchOptions) -> tuple[Route, str]:
    """Which reader may fetch ``location`` under ``options``, and what it reads (for local
    paths, the path without ``file://``). Raises :class:`DocumentFailed` with
    ``bad_url``, ``scheme_not_allowed`` or ``local_path_not_allowed``."""
    if not location or "\x00" in location:
        raise DocumentFailed(FailureReason.BAD_URL, "empty location" if not location else "NUL")
    match = _SCHEME.match(location)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        return Route.HTTP, location
    if len(scheme) <= 1 or scheme == "file":  # no scheme (a one-letter one is a drive letter)
        if not options.local_paths:
            raise DocumentFailed(
                FailureReason.LOCAL_PATH_NOT_ALLOWED,
                "local paths are read only from a local SOURCE (folder, files or manifest)",
            )
        return Route.LOCAL, _local_path(location) if scheme == "file" else location
    if scheme not in options.object_store_schemes:
        raise DocumentFailed(
            FailureReason.SCHEME_NOT_ALLOWED,
            f"{scheme}: is not http, https or an allowed scheme (--allow-scheme)",
        )
    if "::" in location:  # fsspec would chain another protocol (with its own client)
        raise DocumentFailed(FailureReason.SCHEME_NOT_ALLOWED, "chained fsspec URL")
    return Route.OBJECT_STORE, location


def _local_path(location: str) -> str:
    try:
        parts = urlsplit(location)
    except ValueError as exc:
        raise DocumentFailed(FailureReason.BAD_URL, str(exc)) from exc
    if parts.netloc not in ("", "localhost"):
        raise DocumentFailed(FailureReason.BAD_URL, f"file URL on another host: {parts.netloc}")
    return parts.path


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
        route, target = route_location(location, self.options)
        if route is Route.HTTP:
            return await self._fetch_http_with_retries(target)
        if route is Route.LOCAL:
            return await asyncio.to_thread(read_local, target, self.options.max_bytes)
        return await asyncio.to_thread(read_object, target, self.options.max_bytes)

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
            except ValueError as exc:  # yarl/aiohttp refusing the URL (InvalidURL, IDNA)
                raise DocumentFailed(FailureReason.BAD_URL, f"{type(exc).__name__}: {exc}") from exc
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
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as exc:
            raise DocumentFailed(FailureReason.BAD_URL, f"{url!r}: {exc}") from exc
        if parts.scheme.lower() not in ("http", "https"):
            raise DocumentFailed(FailureReason.SCHEME_NOT_ALLOWED, f"redirect to {url!r}")
        if not parts.hostname:
            raise DocumentFailed(FailureReason.BAD_URL, f"no host in {url!r}")
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


def read_local(path: str, max_bytes: int) -> Fetched:
    """Bytes of a local regular file, at most ``max_bytes`` (devices, FIFOs and directories
    are refused: ``/dev/zero`` would never end)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before open(): a FIFO would block it
            raise DocumentFailed(FailureReason.UNREADABLE, f"{path} is not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise DocumentFailed(FailureReason.NOT_FOUND, path) from exc
    except (OSError, ValueError) as exc:  # permissions, name too long, NUL, ...
        raise DocumentFailed(FailureReason.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    if len(data) > max_bytes:
        raise DocumentFailed(FailureReason.TOO_LARGE, f"more than {max_bytes} bytes")
    return Fetched(data, None, path)


def read_object(location: str, max_bytes: int) -> Fetched:
    """Bytes of an object-store URL (``s3://bucket/key``) whose scheme the operator allowed,
    read by fsspec's client for that scheme (not SSRF-guarded: an allowed scheme is trusted)."""
    try:
        with fsspec.open(location, "rb") as remote:
            data = remote.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise DocumentFailed(FailureReason.NOT_FOUND, location) from exc
    except (OSError, ValueError) as exc:
        raise DocumentFailed(FailureReason.CONNECTION, f"{type(exc).__name__}: {exc}") from exc
    if len(data) > max_bytes:
        raise DocumentFailed(FailureReason.TOO_LARGE, f"more than {max_bytes} bytes")
    return Fetched(data, None, location)
