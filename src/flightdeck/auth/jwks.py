"""A JWKS cache for one issuer: fetched from the configured URL only, refreshed on an unknown
``kid`` at most once per ``min_refresh_seconds``, served stale if the issuer is briefly down.

No URL named inside a token (``jku``, ``x5u``) is ever fetched: the only URL is the one in
configuration, redirects are not followed, and the body size is capped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("flightdeck.auth")

MAX_JWKS_BYTES = 512 * 1024


class JwksCache:
    """One issuer's JSON Web Key Set, fetched from its configured URL and cached."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.timeout = timeout
        self.clock = clock
        self.fetches = 0
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK with this ``kid`` (or the only key, when the token names none)."""
        if self._stale():
            await self._refresh()
        found = self._lookup(kid)
        if found is None and self._may_refresh():
            await self._refresh()
            found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at > self.cache_seconds

    def _may_refresh(self) -> bool:
        return (
            self._fetched_at is None or self.clock() - self._fetched_at >= self.min_refresh_seconds
        )

    async def _refresh(self) -> None:
        async with self._lock:
            if self._fetched_at is not None and not self._may_refresh():
                return  # another request refreshed while this one waited
            self._fetched_at = self.clock()  # also on failure: failures are rate-limited too
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("fetching JWKS from %s failed: %s", self.url, type(exc).__name__)
                return
            self._keys = keys

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url, allow_redirects=False) as resp,
        ):
            if resp.status != 200:
                raise ValueError(f"JWKS answered HTTP {resp.status}")
            body = await resp.content.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS document is too large")
        document = orjson.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document has no 'keys' array")
        keys: dict[str, dict[str, Any]] = {}
        for jwk in document["keys"]:
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = jwk
        return keys
