"""Which limits apply to a caller: stored per-tenant/per-key policies over configured defaults."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import delete, select

from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings
from flightdeck.limits.scopes import (
    MICROS,
    UNLIMITED,
    KeyScope,
    Scope,
    ScopeOwner,
    TenantScope,
    UserScope,
)
from flightdeck.store.database import Store
from flightdeck.store.models import utcnow
from flightdeck.store.models_tenancy import LimitPolicy

TENANT_SCOPE = 0  # key_id of a tenant-wide policy
log = logging.getLogger("flightdeck.limits")


def _scope(owner: ScopeOwner, rule: LimitRule) -> Scope:
    def limit(value: int | None) -> int:
        return UNLIMITED if value is None else value

    budget = UNLIMITED if rule.monthly_budget is None else round(rule.monthly_budget * MICROS)
    return Scope(
        owner.name,
        limit(rule.requests_per_minute),
        limit(rule.tokens_per_minute),
        limit(rule.concurrent_requests),
        budget,
        owner,
    )


def _rule(row: LimitPolicy) -> LimitRule:
    return LimitRule(
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        concurrent_requests=row.concurrent_requests,
        monthly_budget=row.monthly_budget,
    )


class PolicyStore:
    """Reads and writes ``limit_policies``; ``scopes_for`` caches for ``ttl`` seconds."""

    def __init__(
        self,
        store: Store,
        settings: LimitsSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.ttl = settings.policy_cache_seconds
        self.clock = clock
        self._cache: dict[tuple[str, int], tuple[float, LimitRule | None]] = {}
        self._scopes: dict[ScopeOwner, tuple[LimitRule, Scope]] = {}
        self._refreshing: dict[tuple[str, int], asyncio.Future[LimitRule | None]] = {}

    async def get(self, tenant: str, key_id: int = TENANT_SCOPE) -> LimitRule | None:
        async with self.store.session() as session:
            row = await session.scalar(
                select(LimitPolicy).where(
                    LimitPolicy.tenant == tenant, LimitPolicy.key_id == key_id
                )
            )
        return None if row is None else _rule(row)

    async def for_tenant(self, tenant: str) -> list[tuple[int, LimitRule]]:
        async with self.store.session() as session:
            rows = await session.scalars(
                select(LimitPolicy).where(LimitPolicy.tenant == tenant).order_by(LimitPolicy.key_id)
            )
            return [(row.key_id, _rule(row)) for row in rows]

    async def set(self, tenant: str, rule: LimitRule, key_id: int = TENANT_SCOPE) -> None:
        async with self.store.session() as session, session.begin():
            row = await session.scalar(
                select(LimitPolicy).where(
                    LimitPolicy.tenant == tenant, LimitPolicy.key_id == key_id
                )
            )
            if row is None:
                row = LimitPolicy(tenant=tenant, key_id=key_id)
                session.add(row)
            row.requests_per_minute = rule.requests_per_minute
            row.tokens_per_minute = rule.tokens_per_minute
            row.concurrent_requests = rule.concurrent_requests
            row.monthly_budget = rule.monthly_budget
            row.updated_at = utcnow()
        self._cache.pop((tenant, key_id), None)

    async def clear(self, tenant: str, key_id: int = TENANT_SCOPE) -> bool:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                delete(LimitPolicy).where(
                    LimitPolicy.tenant == tenant, LimitPolicy.key_id == key_id
                )
            )
        self._cache.pop((tenant, key_id), None)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _cached(self, tenant: str, key_id: int) -> LimitRule | None:
        """The stored rule, cached; an expired entry is served while one refresh runs."""
        hit = self._cache.get((tenant, key_id))
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        refresh = self._refreshing.get((tenant, key_id))
        if refresh is None:
            refresh = asyncio.ensure_future(self._refresh(tenant, key_id, hit))
            self._refreshing[(tenant, key_id)] = refresh
            refresh.add_done_callback(lambda _: self._refreshing.pop((tenant, key_id), None))
        if hit is not None:
            return hit[1]  # stale for one refresh, instead of a query per request
        return await asyncio.shield(refresh)

    async def _refresh(
        self, tenant: str, key_id: int, hit: tuple[float, LimitRule | None] | None
    ) -> LimitRule | None:
        try:
            rule = await self.get(tenant, key_id)
        except Exception as exc:  # database down: keep the last known policy (or the defaults)
            log.warning("limit policies unavailable (%s); using the last known", type(exc).__name__)
            return hit[1] if hit is not None else None
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[(tenant, key_id)] = (self.clock() + self.ttl, rule)
        return rule

    def _scope(self, owner: ScopeOwner, rule: LimitRule) -> Scope:
        """The scope of a rule, rebuilt only when the rule object changes (hot path)."""
        hit = self._scopes.get(owner)
        if hit is not None and hit[0] is rule:
            return hit[1]
        if len(self._scopes) > 100_000:
            self._scopes.clear()
        scope = _scope(owner, rule)
        self._scopes[owner] = (rule, scope)
        return scope

    async def scopes_for(
        self, tenant: str, key_id: int | None, user: str | None = None
    ) -> list[Scope]:
        """The key's scope (if the caller used a key), else the OAuth user's scope (if
        ``default_user`` limits anything), and the tenant's scope."""
        scopes: list[Scope] = []
        if key_id is not None:
            rule = await self._cached(tenant, key_id) or self.settings.default_key
            scopes.append(self._scope(KeyScope(key_id), rule))
        elif user is not None:
            scope = self._scope(UserScope(tenant, user), self.settings.default_user)
            if scope.limited:
                scopes.append(scope)
        rule = await self._cached(tenant, TENANT_SCOPE) or self.settings.default_tenant
        scopes.append(self._scope(TenantScope(tenant), rule))
        return scopes
