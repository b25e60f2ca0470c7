"""Usage over time, bucketed in SQL: what the console charts (``/admin/console/...``).

One query per panel reads ``usage_records`` over ``[start, end)`` and groups rows into the
``step``-second buckets of ``buckets.py``.

Latency and time-to-first-token percentiles come from a histogram built in the same query
(``LATENCY_BOUNDS_MS``: 2**(1/4) apart, 1 ms to about 2 minutes) and are interpolated within
a bin the way Prometheus's ``histogram_quantile`` does: never more than one bin (19%) from the
exact value, within a few percent with many requests, and the result is a few thousand rows
however many records the range holds.

Columns that later migrations add (``cache_result``, ``saved_cost``) are used when the model
has them, so the cache panels light up without a change here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from flightdeck.ledger.buckets import SeriesQuery, pick_step
from flightdeck.store.models_tenancy import UsageRow

LATENCY_BOUNDS_MS = tuple(2 ** (i / 4) for i in range(69))  # 1 ms .. 2**17 ms (131 s)
CACHE_HITS = ("hit", "semantic-hit")
CACHE_LOOKUPS = ("hit", "semantic-hit", "miss", "refresh")  # bypass is not a lookup
QUANTILES = (0.5, 0.95, 0.99)


def limiter_rejection() -> ColumnElement[bool]:
    """A request the gateway's limits refused (429 before any upstream was chosen)."""
    return and_(UsageRow.status == 429, UsageRow.deployment.is_(None))


@dataclass
class Traffic:
    """Per-bucket series (lists as long as ``times``); ``None`` where a bucket has no data."""

    times: list[int]
    step: int
    requests: list[int]
    errors: list[int]  # status >= 400, limiter rejections apart
    limited: list[int]  # refused by the gateway's rate limits and budgets
    input_tokens: list[int]
    output_tokens: list[int]
    cost: list[float]
    latency_ms: dict[str, list[float | None]] = field(default_factory=dict)  # "p50" -> series
    ttft_ms: dict[str, list[float | None]] = field(default_factory=dict)
    limited_by: dict[str, int] = field(default_factory=dict)  # error code -> count over range
    cache: dict[str, list[Any]] | None = None  # present once the ledger has cache columns

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "cache"}
        if self.cache is not None:
            out["cache"] = self.cache
        return out


def _zeros(n: int) -> list[int]:
    return [0] * n


async def traffic(conn: AsyncConnection, q: SeriesQuery) -> Traffic:
    """Requests, errors, limiter rejections, tokens, spend and latency percentiles per bucket."""
    n = q.buckets
    out = Traffic(q.times, q.step, _zeros(n), _zeros(n), _zeros(n), _zeros(n), _zeros(n), [0.0] * n)
    limited = limiter_rejection()
    bucket = q.bucket()
    # limiter rejections by reason come from the same scan: one group per bucket and reason
    reason = case(
        (limited, func.coalesce(UsageRow.error_type, literal_column("'rate_limit_exceeded'")))
    ).label("reason")
    columns: list[Any] = [
        bucket,
        reason,
        func.count().label("requests"),
        func.sum(case((limited, 1), else_=0)).label("limited"),
        func.sum(case((and_(UsageRow.status >= 400, ~limited), 1), else_=0)).label("errors"),
        func.sum(UsageRow.input_tokens).label("input_tokens"),
        func.sum(UsageRow.output_tokens).label("output_tokens"),
        func.sum(UsageRow.cost).label("cost"),
    ]
    cache_result = getattr(UsageRow, "cache_result", None)
    saved_cost = getattr(UsageRow, "saved_cost", None)
    if cache_result is not None:
        columns += [
            func.sum(case((cache_result.in_(CACHE_HITS), 1), else_=0)).label("hits"),
            func.sum(case((cache_result.in_(CACHE_LOOKUPS), 1), else_=0)).label("lookups"),
        ]
        if saved_cost is not None:
            columns.append(func.sum(saved_cost).label("saved"))
        out.cache = {"hits": _zeros(n), "lookups": _zeros(n), "hit_rate": [None] * n}
        if saved_cost is not None:
            out.cache["saved_cost"] = [0.0] * n
    rows = await conn.execute(select(*columns).where(q.where()).group_by(bucket, reason))
    for row in rows:
        i = int(row.bucket)
        if not 0 <= i < n:
            continue
        out.requests[i] += int(row.requests)
        out.limited[i] += int(row.limited or 0)
        out.errors[i] += int(row.errors or 0)
        out.input_tokens[i] += int(row.input_tokens or 0)
        out.output_tokens[i] += int(row.output_tokens or 0)
        out.cost[i] += float(row.cost or 0.0)
        if row.reason is not None:
            out.limited_by[row.reason] = out.limited_by.get(row.reason, 0) + int(row.requests)
        if out.cache is not None:
            out.cache["hits"][i] += int(row.hits or 0)
            out.cache["lookups"][i] += int(row.lookups or 0)
            if "saved_cost" in out.cache:
                out.cache["saved_cost"][i] += float(row.saved or 0.0)
    if out.cache is not None:
        hits, lookups = out.cache["hits"], out.cache["lookups"]
        out.cache["hit_rate"] = [h / k if k else None for h, k in zip(hits, lookups, strict=True)]
    out.latency_ms = await _percentiles(conn, q, UsageRow.latency_ms)
    out.ttft_ms = await _percentiles(conn, q, UsageRow.ttft_ms)
    return out


class latency_bin(FunctionElement[int]):  # lowercase, like the SQL functions it stands for
    """The ``LATENCY_BOUNDS_MS`` bin of a value: ``i`` for ``bounds[i-1] <= v < bounds[i]``,
    0 below the first bound, ``len(bounds)`` from the last one up."""

    type = Integer()
    inherit_cache = True


@compiles(latency_bin)
def _bin_case(element: latency_bin, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    whens = " ".join(f"WHEN {value} < {b!r} THEN {i}" for i, b in enumerate(LATENCY_BOUNDS_MS))
    return f"CASE {whens} ELSE {len(LATENCY_BOUNDS_MS)} END"


@compiles(latency_bin, "postgresql")
def _bin_width_bucket(element: latency_bin, compiler: SQLCompiler, **kw: Any) -> str:
    # a binary search over the bounds; the same bins as the CASE (tests run both)
    bounds = ", ".join(repr(b) for b in LATENCY_BOUNDS_MS)
    value = compiler.process(element.clauses, **kw)
    return f"width_bucket({value}, ARRAY[{bounds}]::float8[])"


async def _percentiles(
    conn: AsyncConnection, q: SeriesQuery, column: Any
) -> dict[str, list[float | None]]:
    """p50/p95/p99 of ``column`` (milliseconds) per bucket, from a histogram built in SQL."""
    bounds = LATENCY_BOUNDS_MS
    bin_ = latency_bin(column).label("bin")
    bucket = q.bucket()
    query = (
        select(bucket, bin_, func.count().label("n"))
        .where(q.where(), column.is_not(None))
        .group_by(bucket, bin_)
    )
    histograms: dict[int, dict[int, int]] = defaultdict(dict)
    for row in await conn.execute(query):
        histograms[int(row.bucket)][int(row.bin)] = int(row.n)
    n = q.buckets
    out: dict[str, list[float | None]] = {f"p{round(p * 100)}": [None] * n for p in QUANTILES}
    for i, counts in histograms.items():
        if 0 <= i < n:
            for p in QUANTILES:
                out[f"p{round(p * 100)}"][i] = histogram_quantile(p, counts, bounds)
    return out


def histogram_quantile(p: float, counts: dict[int, int], bounds: tuple[float, ...]) -> float:
    """The ``p`` quantile of a histogram: ``counts[i]`` values below ``bounds[i]`` (and at or
    above ``bounds[i-1]``), bin ``len(bounds)`` unbounded. Interpolated geometrically within a
    bin (the bins are geometric); the last bin answers its lower bound."""
    total = sum(counts.values())
    rank = p * total
    seen = 0
    for i in sorted(counts):
        c = counts[i]
        if seen + c >= rank and c > 0:
            if i >= len(bounds):
                return bounds[-1]
            upper = bounds[i]
            lower = bounds[i - 1] if i > 0 else 0.0
            frac = (rank - seen) / c
            if lower <= 0:
                return upper * frac
            return float(lower * (upper / lower) ** frac)
        seen += c
    return bounds[-1]


async def usage_by_tenant_model(
    conn: AsyncConnection, q: SeriesQuery, top: int = 8
) -> dict[str, Any]:
    """Tokens and spend per (tenant, model group) per bucket: the ``top`` series by spend (then
    tokens), the rest summed as ``other``. ``{"times", "step", "series": [{"tenant", "model",
    "tokens": [...], "cost": [...], "total_tokens", "total_cost"}]}``."""
    bucket = q.bucket()
    tokens = func.sum(UsageRow.input_tokens + UsageRow.output_tokens)
    query = (
        select(
            bucket,
            UsageRow.tenant,
            UsageRow.model_group,
            tokens.label("tokens"),
            func.sum(UsageRow.cost).label("cost"),
        )
        .where(q.where())
        .group_by(bucket, UsageRow.tenant, UsageRow.model_group)
    )
    n = q.buckets
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await conn.execute(query):
        i = int(row.bucket)
        if not 0 <= i < n:
            continue
        key = (row.tenant, row.model_group)
        s = series.setdefault(
            key, {"tenant": key[0], "model": key[1], "tokens": _zeros(n), "cost": [0.0] * n}
        )
        s["tokens"][i] += int(row.tokens or 0)
        s["cost"][i] += float(row.cost or 0.0)
    for s in series.values():
        s["total_tokens"], s["total_cost"] = sum(s["tokens"]), sum(s["cost"])
    ranked = sorted(series.values(), key=lambda s: (-s["total_cost"], -s["total_tokens"]))
    kept, rest = ranked[:top], ranked[top:]
    if rest:
        other: dict[str, Any] = {"tenant": "*", "model": "other", "tokens": _zeros(n)}
        other["cost"] = [0.0] * n
        for s in rest:
            for i in range(n):
                other["tokens"][i] += s["tokens"][i]
                other["cost"][i] += s["cost"][i]
        other["total_tokens"], other["total_cost"] = sum(other["tokens"]), sum(other["cost"])
        kept.append(other)
    return {"times": q.times, "step": q.step, "series": kept}


async def slowest(conn: AsyncConnection, q: SeriesQuery, limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` slowest requests of the range, slowest first, with their trace ids."""
    query = (
        select(
            UsageRow.record_id,
            UsageRow.ts,
            UsageRow.tenant,
            UsageRow.model_group,
            UsageRow.deployment,
            UsageRow.status,
            UsageRow.latency_ms,
            UsageRow.ttft_ms,
            UsageRow.error_type,
            UsageRow.trace_id,
        )
        .where(q.where(), UsageRow.latency_ms.is_not(None))
        .order_by(UsageRow.latency_ms.desc(), UsageRow.id)
        .limit(limit)
    )
    out = []
    for row in await conn.execute(query):
        ts = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=UTC)
        out.append(
            {
                "record_id": row.record_id,
                "ts": ts.isoformat(),
                "tenant": row.tenant,
                "model": row.model_group,
                "deployment": row.deployment,
                "status": row.status,
                "latency_ms": row.latency_ms,
                "ttft_ms": row.ttft_ms,
                "error_type": row.error_type,
                "trace_id": row.trace_id,
            }
        )
    return out


__all__ = [
    "SeriesQuery",
    "Traffic",
    "histogram_quantile",
    "limiter_rejection",
    "pick_step",
    "slowest",
    "traffic",
    "usage_by_tenant_model",
]
