"""Which limits apply to a caller: stored per-tenant/per-key policies over configured defaults.

A scope (a tenant, or one key) may have a stored policy at two levels: a ``ceiling`` set by a
platform admin (or an operator with the CLI) and a ``tenant`` level set by the tenant's own
admins. The stricter of the two applies, limit by limit (``stricter``), and a tenant admin cannot
set a limit above the ceiling (``above_ceiling`` names what would exceed it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select

from flightdeck.core.errors import PermissionDenied
from flightdeck.core.lru import LruCache
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
MAX_CACHED = 100_000  # policies and scopes kept in memory (LRU)
LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "concurrent_requests", "monthly_budget")
log = logging.getLogger("flightdeck.limits")


class Level(StrEnum):
    """Who set a stored policy: a platform admin (``ceiling``) or the tenant's admins."""

    CEILING = "ceiling"
    TENANT = "tenant"


def stricter(first: LimitRule | None, second: LimitRule | None) -> LimitRule | None:
    """Limit by limit, the lower of two rules (None, unlimited, loses to any number)."""
    if first is None or second is None:
        return first or second
    merged: dict[str, int | float | None] = {}
    for name in LIMIT_FIELDS:
        values = [v for v in (getattr(first, name), getattr(second, name)) if v is not None]
        merged[name] = min(values) if values else None
    return LimitRule.model_validate(merged)


def above_ceiling(rule: LimitRule, ceiling: LimitRule | None) -> list[str]:
    """The limits of ``rule`` that exceed ``ceiling``, described (empty when none do).

    Unset (unlimited) limits of ``rule`` never exceed: the ceiling applies to them anyway."""
    if ceiling is None:
        return []
    out = []
    for name in LIMIT_FIELDS:
        value, most = getattr(rule, name), getattr(ceiling, name)
        if value is not None and most is not None and value > most:
            out.append(f"{name} {value:g} exceeds the ceiling {most:g}")
    return out


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


def _where(tenant: str, key_id: int, level: Level) -> Any:
    return select(LimitPolicy).where(
        LimitPolicy.tenant == tenant, LimitPolicy.key_id == key_id, LimitPolicy.level == level.value
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
        self._cache: LruCache[tuple[str, int], tuple[float, LimitRule | None]] = LruCache(
            MAX_CACHED
        )
        self._scopes: LruCache[ScopeOwner, tuple[LimitRule, Scope]] = LruCache(MAX_CACHED)
        self._refreshing: dict[tuple[str, int], asyncio.Future[LimitRule | None]] = {}

    async def get(
        self, tenant: str, key_id: int = TENANT_SCOPE, level: Level = Level.CEILING
    ) -> LimitRule | None:
        """The policy stored at one level for a scope, if any."""
        async with self.store.session() as session:
            row = await session.scalar(_where(tenant, key_id, level))
        return None if row is None else _rule(row)

    async def effective(self, tenant: str, key_id: int = TENANT_SCOPE) -> LimitRule | None:
        """The stricter of the scope's ceiling and tenant-set policies (one query)."""
        query = select(LimitPolicy).where(
            LimitPolicy.tenant == tenant, LimitPolicy.key_id == key_id
        )
        async with self.store.session() as session:
            rows = (await session.scalars(query)).all()
        rule: LimitRule | None = None
        for row in rows:
            rule = stricter(rule, _rule(row))
        return rule

    async def for_tenant(self, tenant: str) -> list[tuple[int, Level, LimitRule]]:
        """Every stored policy of a tenant and its keys: (key_id, level, rule)."""
        async with self.store.session() as session:
            rows = await session.scalars(
                select(LimitPolicy)
                .where(LimitPolicy.tenant == tenant)
                .order_by(LimitPolicy.key_id, LimitPolicy.level)
            )
            return [(row.key_id, Level(row.level), _rule(row)) for row in rows]

    async def set(
        self,
        tenant: str,
        rule: LimitRule,
        key_id: int = TENANT_SCOPE,
        level: Level = Level.CEILING,
    ) -> None:
        """Store (replace) the policy of a scope at one level."""
        async with self.store.session() as session, session.begin():
            row = await session.scalar(_where(tenant, key_id, level))
            if row is None:
                row = LimitPolicy(tenant=tenant, key_id=key_id, level=level.value)
                session.add(row)
            row.requests_per_minute = rule.requests_per_minute
            row.tokens_per_minute = rule.tokens_per_minute
            row.concurrent_requests = rule.concurrent_requests
            row.monthly_budget = rule.monthly_budget
            row.updated_at = utcnow()
        self._cache.pop((tenant, key_id))

    async def set_as(
        self,
        tenant: str,
        rule: LimitRule,
        key_id: int = TENANT_SCOPE,
        *,
        platform_admin: bool,
        level: Level | None = None,
    ) -> Level:
        """Store a policy at the level the caller may set; returns that level.

        A platform admin sets the ``ceiling`` (or, when asked, the tenant level); anyone else sets
        the ``tenant`` level, and never above the ceiling: PermissionDenied (403,
        ``limit_above_ceiling``) names each limit that would exceed it."""
        if platform_admin:
            chosen = level or Level.CEILING
        elif level is Level.CEILING:
            raise PermissionDenied(
                "Only platform admins set ceilings; tenant admins set the tenant level",
                code="role_forbidden",
            )
        else:
            chosen = Level.TENANT
        if chosen is Level.TENANT:
            exceeded = above_ceiling(rule, await self.get(tenant, key_id, Level.CEILING))
            if exceeded:
                raise PermissionDenied(
                    "A platform admin capped these limits: " + "; ".join(exceeded),
                    code="limit_above_ceiling",
                )
        await self.set(tenant, rule, key_id, chosen)
        return chosen

    async def clear(
        self, tenant: str, key_id: int = TENANT_SCOPE, level: Level = Level.CEILING
    ) -> bool:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                delete(LimitPolicy).where(
                    LimitPolicy.tenant == tenant,
                    LimitPolicy.key_id == key_id,
                    LimitPolicy.level == level.value,
                )
            )
        self._cache.pop((tenant, key_id))
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
            rule = await self.effective(tenant, key_id)
        except Exception as exc:  # database down: keep the last known policy (or the defaults)
            log.warning("limit policies unavailable (%s); using the last known", type(exc).__name__)
            return hit[1] if hit is not None else None
        self._cache.put((tenant, key_id), (self.clock() + self.ttl, rule))
        return rule

    def _scope(self, owner: ScopeOwner, rule: LimitRule) -> Scope:
        """The scope of a rule, rebuilt only when the rule object changes (hot path)."""
        hit = self._scopes.get(owner)
        if hit is not None and hit[0] is rule:
            return hit[1]
        scope = _scope(owner, rule)
        self._scopes.put(owner, (rule, scope))
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
