"""``/admin/console/...``: the JSON the console page (``/console``) charts.

Admin role only: a member or viewer key gets 403. A tenant's admin sees its own tenant; a
platform admin sees every tenant (no ``tenant`` parameter) or the one it names. Series come
from the ledger (``ledger/series.py``), bucketed in SQL; ``live`` reads this replica's
circuits and, for platform admins, the telemetry registry when the app has one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query

from flightdeck.auth.keys import Role
from flightdeck.calls import Router
from flightdeck.core.errors import InvalidRequest, PermissionDenied
from flightdeck.ledger.series import SeriesQuery, slowest, traffic, usage_by_tenant_model
from flightdeck.server.admin.access import Access, CallerAccess, Services
from flightdeck.server.console_sources import ConsoleSources

SHORTEST, LONGEST = timedelta(minutes=15), timedelta(days=30)
RANGE = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
LIVE_METRICS = ("limit", "reject", "cache", "retr", "fallback", "spool", "ledger")
"""Telemetry metric families (by a part of their name) that ``live`` passes on (circuit states
come from the router itself)."""


def parse_range(value: str) -> timedelta:
    """``15m``, ``6h``, ``30d``...: 15 minutes to 30 days, else InvalidRequest (400)."""
    match = RANGE.match(value)
    if match is None:
        raise InvalidRequest(
            "range: use a number and m, h or d, like 15m, 6h or 30d", param="range"
        )
    span = timedelta(**{UNITS[match[2]]: int(match[1])})
    if not SHORTEST <= span <= LONGEST:
        raise InvalidRequest("range: from 15m to 30d", param="range")
    return span


def console_scope(caller: Access, tenant: str | None) -> str | None:
    """The tenant the console shows (None: every tenant, for a platform admin without one)."""
    if caller.principal.role is not Role.ADMIN:
        raise PermissionDenied("The console needs the admin role", code="role_forbidden")
    if caller.platform_admin and tenant is None:
        return None
    return caller.tenant(tenant)


def registry_samples(registry: Any) -> list[dict[str, Any]]:
    """Current values of the registry's limiter, retry, cache, ledger... families (no
    histogram buckets)."""
    out: list[dict[str, Any]] = []
    for family in registry.collect():
        if not any(part in family.name for part in LIVE_METRICS):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            out.append({"name": sample.name, "labels": dict(sample.labels), "value": sample.value})
    return out


def circuits(router: Router | None) -> list[dict[str, Any]]:
    """Every deployment of this replica with its model group and circuit state."""
    if router is None:
        return []
    out = []
    for group in router.groups.values():
        for dep in group.deployments:
            state = dep.circuit.state.value
            out.append({"deployment": dep.id, "model": group.name, "state": state})
    return out


router = APIRouter(prefix="/console", tags=["console"])
Span = Annotated[str, Query(alias="range", description="15m to 30d, e.g. 1h, 7d")]


def series_query(caller: Access, tenant: str | None, span: str) -> SeriesQuery:
    """The range ``span`` ending now, in the scope the caller may see."""
    return SeriesQuery.last(parse_range(span), console_scope(caller, tenant))


def head(q: SeriesQuery) -> dict[str, Any]:
    return {"tenant": q.tenant, "from": q.start.isoformat(), "to": q.end.isoformat()}


async def cached(
    sources: ConsoleSources,
    key: tuple[Any, ...],
    q: SeriesQuery,
    compute: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """One answer per scope, range and parameters for a while (1.25 s for 15 minutes up to
    60 s for a day or more): many open consoles cost the database one scan per range."""
    ttl = min(60.0, (q.end - q.start).total_seconds() / 720)
    now = time.monotonic()
    hit = sources.results.get((*key, q.tenant))
    if hit is not None and hit[0] > now:
        return hit[1]
    answer = await compute()
    sources.results.put((*key, q.tenant), (now + ttl, answer))
    return answer


@router.get("/traffic")
async def traffic_series(
    caller: CallerAccess, services: Services, tenant: str | None = None, span: Span = "1h"
) -> dict[str, Any]:
    """Requests, errors, limiter rejections, tokens, spend, latency and TTFT percentiles
    (milliseconds) and, once the ledger records it, cache hit rate and saving per bucket."""
    q = series_query(caller, tenant, span)

    async def compute() -> dict[str, Any]:
        async with services.store.engine.connect() as conn:
            return head(q) | (await traffic(conn, q)).to_dict()

    return await cached(services.console, ("traffic", span), q, compute)


@router.get("/usage")
async def usage_series(
    caller: CallerAccess,
    services: Services,
    tenant: str | None = None,
    span: Span = "1h",
    top: Annotated[int, Query(ge=1, le=50)] = 8,
) -> dict[str, Any]:
    """Tokens and spend per tenant and model group over time (the ``top`` by spend)."""
    q = series_query(caller, tenant, span)

    async def compute() -> dict[str, Any]:
        async with services.store.engine.connect() as conn:
            return head(q) | await usage_by_tenant_model(conn, q, top)

    return await cached(services.console, ("usage", span, top), q, compute)


@router.get("/slow")
async def slow_requests(
    caller: CallerAccess,
    services: Services,
    tenant: str | None = None,
    span: Span = "1h",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """The slowest requests of the range with their trace ids (and links, when
    ``[console] trace_url`` is set)."""
    q = series_query(caller, tenant, span)
    template = services.console.settings.trace_url

    async def compute() -> dict[str, Any]:
        async with services.store.engine.connect() as conn:
            rows = await slowest(conn, q, limit)
        return head(q) | {"data": with_links(rows, template)}

    return await cached(services.console, ("slow", span, limit), q, compute)


@router.get("/live")
async def live(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> dict[str, Any]:
    """This replica's circuit states now, the page's refresh interval and, for platform
    admins, the telemetry registry's circuit, limiter and cache metrics when present."""
    scope = console_scope(caller, tenant)
    sources = services.console
    registry = getattr(sources.telemetry(), "metrics_registry", None)
    return {
        "tenant": scope,
        "platform_admin": caller.platform_admin,
        "refresh_seconds": sources.settings.refresh_seconds,
        "circuits": circuits(sources.router),
        "metrics": registry_samples(registry)
        if registry is not None and caller.platform_admin
        else None,
        "now": datetime.now(UTC).isoformat(),
    }


def with_links(rows: Iterable[dict[str, Any]], template: str) -> list[dict[str, Any]]:
    """Each row with ``trace_url`` filled from the template (None without a trace id)."""
    out = []
    for row in rows:
        trace_id = row.get("trace_id")
        link = (
            template.replace("{trace_id}", quote(trace_id, safe=""))
            if template and trace_id
            else None
        )
        out.append(row | {"trace_url": link})
    return out
