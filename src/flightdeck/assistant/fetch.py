"""Fetching a page by URL, only when enabled, and never to a private address.

Every hop of a redirect chain is checked: the host is resolved once, all its addresses must be
public (not private, loopback, link-local, multicast, reserved or unspecified), and the
connection goes to exactly the address that was checked (no second lookup to rebind).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from flightdeck.core.addresses import is_public_address
from flightdeck.core.errors import InvalidRequest, PermissionDenied

MAX_REDIRECTS = 5


class BlockedAddress(PermissionDenied):
    """A page URL that resolves to an address the SSRF guard refuses."""

    code = "url_not_allowed"


class PublicOnlyResolver(AbstractResolver):
    """Resolves like the system, and refuses hosts with any non-public address."""

    def __init__(self, allow: Callable[[str], bool] = is_public_address) -> None:
        self.allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise InvalidRequest(f"cannot resolve host {host!r}", param="url") from exc
        results: list[ResolveResult] = []
        for fam, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])
            if not self.allow(address):
                raise BlockedAddress(f"{host} resolves to a non-public address", param="url")
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": fam,
                    "proto": proto,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        return None


async def fetch_html(
    url: str,
    *,
    max_bytes: int,
    timeout_seconds: float,
    allow: Callable[[str], bool] = is_public_address,
) -> str:
    """The HTML at ``url``, following redirects by hand so every hop is checked.

    ``allow`` decides which IP addresses may be connected to (tests widen it to loopback).
    """
    timeouts = aiohttp.ClientTimeout(total=timeout_seconds)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(allow), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeouts) as session:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, allow)
            try:
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status != 200:
                        raise InvalidRequest(
                            f"fetching {url} returned {response.status}", param="url"
                        )
                    return await _read_limited(response, max_bytes)
            except aiohttp.ClientError as exc:
                raise InvalidRequest(f"fetching {url} failed: {exc}", param="url") from None
    raise InvalidRequest(f"more than {MAX_REDIRECTS} redirects", param="url")


def _check_url(url: str, allow: Callable[[str], bool]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("only http and https urls can be fetched", param="url")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not allow(str(literal)):
        raise BlockedAddress(f"{parts.hostname} is not a public address", param="url")


async def _read_limited(response: Any, max_bytes: int) -> str:
    data = bytearray()
    async for piece in response.content.iter_chunked(65536):
        data.extend(piece)
        if len(data) > max_bytes:
            raise InvalidRequest(
                f"the page at the url is larger than {max_bytes} bytes", param="url"
            )
    return bytes(data).decode(response.get_encoding() or "utf-8", errors="replace")
