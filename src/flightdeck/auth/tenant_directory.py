"""Which tenants exist, as seen by authentication: a token naming a tenant that does not exist
is refused (403), unless its issuer is configured to provision tenants (then it is created).

Answers are cached ``ttl`` seconds (hits and misses, LRU-bounded), like API keys, so a flood of
tokens cannot cost a query each; a tenant created meanwhile is seen within ``ttl``. If the store
cannot be reached, the last answer stands, and a tenant never seen answers 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from flightdeck.auth.tenants import TenantExists, TenantStore
from flightdeck.core.errors import InvalidRequest, PermissionDenied, UpstreamUnavailable
from flightdeck.core.lru import LruCache

log = logging.getLogger("flightdeck.auth")
MAX_ENTRIES = 100_000


class TenantDirectory:
    """Checks (and, where allowed, provisions) the tenant an access token names."""

    def __init__(
        self,
        tenants: TenantStore,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.tenants = tenants
        self.ttl = ttl
        self._clock = clock
        self._cache: LruCache[str, tuple[float, bool]] = LruCache(max_entries)
        self._pending: dict[str, asyncio.Future[bool]] = {}

    async def require(self, tenant: str, *, provision: bool = False) -> None:
        """Return if ``tenant`` exists (or was just provisioned); 403 ``tenant_not_found`` else.

        Raises UpstreamUnavailable (503) when the store is down and the tenant was never seen."""
        if tenant == self.tenants.platform_tenant or await self._exists(tenant):
            return
        if not provision:
            raise PermissionDenied(
                f"Tenant {tenant!r} does not exist; a platform admin must create it first",
                code="tenant_not_found",
            )
        try:
            await self.tenants.create(tenant)
            log.info("provisioned tenant %r for an access token", tenant)
        except TenantExists:
            pass  # another request provisioned it first
        except InvalidRequest as exc:  # a reserved or malformed name
            raise PermissionDenied(
                f"Tenant {tenant!r} cannot be provisioned: {exc.message}",
                code="tenant_not_found",
            ) from None
        self._cache.put(tenant, (self._clock() + self.ttl, True))

    async def _exists(self, tenant: str) -> bool:
        hit = self._cache.get(tenant)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        try:
            return await self._lookup(tenant)
        except (SQLAlchemyError, OSError, TimeoutError):
            if hit is None:
                raise UpstreamUnavailable(
                    "Tenants cannot be checked right now; try again shortly",
                    code="auth_unavailable",
                ) from None
            return hit[1]

    async def _lookup(self, tenant: str) -> bool:
        """One query per tenant however many requests miss the cache at once."""
        pending = self._pending.get(tenant)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(tenant))
            self._pending[tenant] = pending
            pending.add_done_callback(lambda _: self._pending.pop(tenant, None))
        return await asyncio.shield(pending)

    async def _fetch(self, tenant: str) -> bool:
        exists = await self.tenants.get(tenant) is not None
        self._cache.put(tenant, (self._clock() + self.ttl, exists))
        return exists
