"""Usage queries: totals per model, key or day for one tenant over ``[start, end)``.

Whole UTC days are read from the ``usage_daily`` rollup; only the partial days at the two edges
of the range touch ``usage_records`` (through the ``(tenant, ts)`` index, covering on
PostgreSQL). So a month of a busy tenant costs a few hundred rollup rows, not millions of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from flightdeck.ledger.record import CACHE_HITS
from flightdeck.store.models_tenancy import UsageDaily, UsageRow


class GroupBy(StrEnum):
    """How usage is grouped: by model, key or day."""

    MODEL = "model"
    KEY = "key"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """A tenant's usage from ``start`` to ``end``, grouped by ``group_by``."""

    tenant: str
    start: datetime
    end: datetime
    group_by: GroupBy = GroupBy.MODEL


@dataclass(slots=True)
class UsageTotals:
    """The usage totals of one group."""

    group: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0  # answered by the response cache (exact or semantic)
    saved_cost: float = 0.0  # what the model calls those hits replaced would have cost

    @property
    def cache_hit_rate(self) -> float:
        """Cache hits as a share of all requests (0 without requests)."""
        return self.cache_hits / self.requests if self.requests else 0.0

    def add(self, row: Any) -> None:
        self.requests += int(row.requests or 0)
        self.errors += int(row.errors or 0)
        self.input_tokens += int(row.input_tokens or 0)
        self.output_tokens += int(row.output_tokens or 0)
        self.cached_tokens += int(row.cached_tokens or 0)
        self.cost += float(row.cost or 0.0)
        self.cache_hits += int(row.cache_hits or 0)
        self.saved_cost += float(row.saved_cost or 0.0)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def split_range(
    start: datetime, end: datetime
) -> tuple[list[tuple[datetime, datetime]], date, date]:
    """Partial-day edges (read from records) and the whole days ``[first, last)`` (rollup)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    after_start = (
        start if start.timetz() == time(tzinfo=UTC) else _midnight(start.date()) + timedelta(days=1)
    )
    before_end = _midnight(end.date())
    if after_start > before_end:  # both ends inside one day
        return [(start, end)], after_start.date(), after_start.date()
    edges = [(a, b) for a, b in ((start, after_start), (before_end, end)) if a < b]
    return edges, after_start.date(), before_end.date()


def _rollup_query(q: UsageQuery, first: date, last: date) -> Executable:
    group = {
        GroupBy.MODEL: UsageDaily.model_group,
        GroupBy.KEY: UsageDaily.key_id,
        GroupBy.DAY: UsageDaily.day,
    }[q.group_by]
    return (
        select(
            group.label("grp"),
            func.sum(UsageDaily.requests).label("requests"),
            func.sum(UsageDaily.errors).label("errors"),
            func.sum(UsageDaily.input_tokens).label("input_tokens"),
            func.sum(UsageDaily.output_tokens).label("output_tokens"),
            func.sum(UsageDaily.cached_tokens).label("cached_tokens"),
            func.sum(UsageDaily.cost).label("cost"),
            func.sum(UsageDaily.cache_hits).label("cache_hits"),
            func.sum(UsageDaily.saved_cost).label("saved_cost"),
        )
        .where(UsageDaily.tenant == q.tenant, UsageDaily.day >= first, UsageDaily.day < last)
        .group_by(group)
    )


def _records_query(q: UsageQuery, a: datetime, b: datetime) -> Executable:
    group: Any = {
        GroupBy.MODEL: UsageRow.model_group,
        GroupBy.KEY: func.coalesce(UsageRow.key_id, 0),
        GroupBy.DAY: UsageRow.model_group,  # an edge lies within one day; grouped below
    }[q.group_by]
    return (
        select(
            group.label("grp"),
            func.count().label("requests"),
            func.sum(case((UsageRow.status >= 400, 1), else_=0)).label("errors"),
            func.sum(UsageRow.input_tokens).label("input_tokens"),
            func.sum(UsageRow.output_tokens).label("output_tokens"),
            func.sum(UsageRow.cached_tokens).label("cached_tokens"),
            func.sum(UsageRow.cost).label("cost"),
            func.sum(case((UsageRow.cache_result.in_(CACHE_HITS), 1), else_=0)).label("cache_hits"),
            func.sum(UsageRow.saved_cost).label("saved_cost"),
        )
        .where(UsageRow.tenant == q.tenant, UsageRow.ts >= a, UsageRow.ts < b)
        .group_by(group)
    )


def _label(q: UsageQuery, value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if q.group_by is GroupBy.DAY and isinstance(value, str):
        return value[:10]
    return str(value)


async def query_usage(conn: AsyncConnection, q: UsageQuery) -> list[UsageTotals]:
    """Totals for ``q``, sorted by group; days and keys with no usage are left out."""
    if q.end <= q.start:
        return []
    edges, first, last = split_range(q.start, q.end)
    totals: dict[str, UsageTotals] = {}

    def add(label: str, row: Any) -> None:
        totals.setdefault(label, UsageTotals(label)).add(row)

    if first < last:
        for row in await conn.execute(_rollup_query(q, first, last)):
            add(_label(q, row.grp), row)
    for a, b in edges:
        for row in await conn.execute(_records_query(q, a, b)):
            add(a.date().isoformat() if q.group_by is GroupBy.DAY else _label(q, row.grp), row)
    return sorted(totals.values(), key=lambda t: t.group)


async def month_spend(
    conn: AsyncConnection, tenant: str | None, key_id: int | None, month: str
) -> float:
    """What a tenant (or, with ``key_id``, one key) spent in ``YYYYMM`` (UTC), from the rollup."""
    first = date(int(month[:4]), int(month[4:]), 1)
    last = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    query = select(func.coalesce(func.sum(UsageDaily.cost), 0.0)).where(
        UsageDaily.day >= first, UsageDaily.day < last
    )
    if tenant is not None:
        query = query.where(UsageDaily.tenant == tenant)
    if key_id is not None:
        query = query.where(UsageDaily.key_id == key_id)
    return float((await conn.execute(query)).scalar_one())


async def user_month_spend(conn: AsyncConnection, tenant: str, user: str, month: str) -> float:
    """What one OAuth user spent in ``YYYYMM`` (UTC). The rollup has no user column, so this
    reads the records (by the tenant/time index); it seeds a user's budget once a month."""
    first = datetime(int(month[:4]), int(month[4:]), 1, tzinfo=UTC)
    last = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)
    query = select(func.coalesce(func.sum(UsageRow.cost), 0.0)).where(
        UsageRow.tenant == tenant,
        UsageRow.ts >= first,
        UsageRow.ts < last,
        UsageRow.user == user,
        UsageRow.key_id.is_(None),
    )
    return float((await conn.execute(query)).scalar_one())
