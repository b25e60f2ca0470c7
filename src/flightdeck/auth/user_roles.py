"""Registered roles of OAuth users, looked up through a short cache like API keys.

A user registered in a tenant (``AccountStore``, matched by the token's ``iss`` and ``sub``) has
the role stored for them, whatever their token's role claim says; an unregistered user keeps the
claim's role. Answers (hits and misses) are cached ``ttl`` seconds (LRU-bounded), so deleting a
registration or changing its role takes effect within ``ttl``, and many requests missing the
cache at once cost one query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.keys import Role
from flightdeck.core.errors import UpstreamUnavailable
from flightdeck.core.lru import LruCache

MAX_ENTRIES = 100_000
Identity = tuple[str, str, str]  # (tenant, issuer, subject)


class UserRoles:
    """Registered roles of OAuth users, cached for ``ttl`` seconds."""

    def __init__(
        self, accounts: AccountStore, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.accounts = accounts
        self.ttl = ttl
        self._clock = clock
        self._cache: LruCache[Identity, tuple[float, Role | None]] = LruCache(MAX_ENTRIES)
        self._pending: dict[Identity, asyncio.Future[Role | None]] = {}

    async def role(self, tenant: str, issuer: str, subject: str) -> Role | None:
        """The registered role of (``issuer``, ``subject``) in ``tenant``; None if unregistered."""
        key = (tenant, issuer, subject)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        try:
            return await self._lookup(key)
        except (SQLAlchemyError, OSError, TimeoutError):
            if hit is None:  # the claim alone might grant more than an admin allowed: refuse
                raise UpstreamUnavailable(
                    "Accounts cannot be checked right now; try again shortly",
                    code="auth_unavailable",
                ) from None
            return hit[1]  # the store is down: the last answer stands

    async def _lookup(self, key: Identity) -> Role | None:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)

    async def _fetch(self, key: Identity) -> Role | None:
        role = await self.accounts.user_role(*key)
        self._cache.put(key, (self._clock() + self.ttl, role))
        return role
