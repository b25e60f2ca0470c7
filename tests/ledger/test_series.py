"""The console's series (bucketed in SQL) agree with a recount, on SQLite and PostgreSQL."""

from __future__ import annotations

import bisect
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Float, literal, select

from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.series import (
    LATENCY_BOUNDS_MS,
    SeriesQuery,
    histogram_quantile,
    latency_bin,
    pick_step,
    slowest,
    traffic,
    usage_by_tenant_model,
)
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow
from tests.ledger.test_queries import fill

END = datetime(2026, 11, 20, 12, 0, 7, tzinfo=UTC)


def records(tenant: str, n: int, span: timedelta, seed: int = 3) -> list[UsageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        status = rng.choice([200, 200, 200, 200, 429, 502])
        limited = status == 429
        out.append(
            UsageRecord(
                tenant=tenant,
                model_group=rng.choice(["gpt-4o", "llama"]),
                deployment=None if limited else "dep-a",
                status=status,
                error_type="rate_limit_exceeded" if limited else None,
                input_tokens=0 if limited else rng.randint(1, 500),
                output_tokens=0 if limited else rng.randint(0, 300),
                cost=0.0 if limited else rng.randint(1, 1000) / 1000,
                latency_ms=None if limited else rng.uniform(5, 3000),
                ttft_ms=None if limited else rng.uniform(2, 800),
                trace_id=f"{i:032x}",
                ts=END - timedelta(seconds=rng.uniform(1, span.total_seconds() * 1.2)),
            )
        )
    return out


@pytest.mark.parametrize("span", [timedelta(minutes=15), timedelta(hours=6), timedelta(days=30)])
async def test_traffic_buckets_match_a_recount(
    store: Store, tenant: str, tmp_path: Path, span: timedelta
) -> None:
    mine = records(tenant, 400, span)
    await fill(store, mine + records("other-" + tenant, 50, span, seed=9), tmp_path)
    q = SeriesQuery.last(span, tenant, END)
    async with store.engine.connect() as conn:
        got = await traffic(conn, q)
    assert got.times[0] <= (END - span).timestamp() < got.times[0] + q.step
    assert len(got.times) == q.buckets <= 121
    expected = [[0, 0, 0, 0.0] for _ in got.times]
    latencies: list[list[float]] = [[] for _ in got.times]
    for r in mine:
        if not q.start <= r.ts < q.end:
            continue
        i = int((r.ts.timestamp() - got.times[0]) // q.step)
        expected[i][0] += 1
        expected[i][1] += r.status == 502
        expected[i][2] += r.status == 429
        expected[i][3] += r.cost
        if r.latency_ms is not None:
            latencies[i].append(r.latency_ms)
    assert got.requests == [e[0] for e in expected]
    assert got.errors == [e[1] for e in expected]
    assert got.limited == [e[2] for e in expected]
    assert got.cost == pytest.approx([e[3] for e in expected])
    assert got.limited_by == {"rate_limit_exceeded": sum(e[2] for e in expected)}
    for i, values in enumerate(latencies):
        p50 = got.latency_ms["p50"][i]
        if not values:
            assert p50 is None
        else:  # interpolated within one bin: never outside what the bucket holds, by a bin
            assert p50 is not None and min(values) / 1.2 <= p50 <= max(values) * 1.2


async def test_percentiles_are_within_ten_percent_of_the_exact_ones(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    rng = random.Random(5)
    at = datetime.fromtimestamp(END.timestamp() // 15 * 15 - 30, UTC)  # one 15 s bucket
    latencies = [math.exp(rng.uniform(math.log(20), math.log(20_000))) for _ in range(2000)]
    mine = [
        UsageRecord(tenant=tenant, model_group="m", status=200, latency_ms=v, ttft_ms=v / 4, ts=at)
        for v in latencies
    ]
    await fill(store, mine, tmp_path)
    async with store.engine.connect() as conn:
        got = await traffic(conn, SeriesQuery.last(timedelta(minutes=15), tenant, END))
    i = got.requests.index(2000)
    ordered = sorted(latencies)
    for name, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = ordered[math.ceil(p * len(ordered)) - 1]
        assert got.latency_ms[name][i] == pytest.approx(exact, rel=0.1), name
        assert got.ttft_ms[name][i] == pytest.approx(exact / 4, rel=0.1), name


async def test_usage_series_per_tenant_and_model_sum_to_the_totals(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    span = timedelta(hours=1)
    a, b = records(tenant, 120, span), records("b-" + tenant, 80, span, seed=4)
    await fill(store, a + b, tmp_path)
    async with store.engine.connect() as conn:
        scoped = await usage_by_tenant_model(conn, SeriesQuery.last(span, tenant, END))
        everyone = await usage_by_tenant_model(conn, SeriesQuery.last(span, None, END))
    assert {s["tenant"] for s in scoped["series"]} == {tenant}
    assert {s["tenant"] for s in everyone["series"]} >= {tenant, "b-" + tenant}
    q = SeriesQuery.last(span, tenant, END)
    want = sum(r.input_tokens + r.output_tokens for r in a if q.start <= r.ts < q.end)
    assert sum(s["total_tokens"] for s in scoped["series"]) == want
    gpt = next(s for s in scoped["series"] if s["model"] == "gpt-4o")
    spent = sum(r.cost for r in a if r.model_group == "gpt-4o" and q.start <= r.ts < q.end)
    assert gpt["total_cost"] == pytest.approx(spent)


async def test_slowest_lists_the_slowest_requests_with_trace_ids(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    span = timedelta(minutes=15)
    mine = records(tenant, 60, span)
    await fill(store, mine, tmp_path)
    q = SeriesQuery.last(span, tenant, END)
    async with store.engine.connect() as conn:
        got = await slowest(conn, q, limit=3)
    timed = [r for r in mine if r.latency_ms is not None and q.start <= r.ts < q.end]
    top = sorted(timed, key=lambda r: -(r.latency_ms or 0))[:3]
    assert [g["trace_id"] for g in got] == [r.trace_id for r in top]
    assert got[0]["latency_ms"] == pytest.approx(top[0].latency_ms)


def test_steps_give_at_most_120_buckets_from_15_minutes_to_30_days() -> None:
    assert pick_step(timedelta(minutes=15)) == 15
    assert pick_step(timedelta(hours=1)) == 30
    assert pick_step(timedelta(days=30)) == 21600
    for minutes in (15, 60, 360, 1440, 10080, 43200):
        assert timedelta(minutes=minutes).total_seconds() / pick_step(
            timedelta(minutes=minutes)
        ) <= (120)


def test_histogram_quantile_interpolates_within_a_bin() -> None:
    bounds = LATENCY_BOUNDS_MS
    one_bin = {10: 100}  # all between bounds[9] and bounds[10]
    p = histogram_quantile(0.5, one_bin, bounds)
    assert bounds[9] < p < bounds[10]
    assert histogram_quantile(0.99, {0: 1, len(bounds): 99}, bounds) == bounds[-1]


async def test_cache_hit_rate_and_saving_once_the_ledger_records_them(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    if not hasattr(UsageRow, "cache_result"):
        pytest.skip("the ledger has no cache columns yet (migration 0009)")
    at = END - timedelta(minutes=1)
    results = ["hit", "semantic-hit", "miss", "miss", "bypass", None]
    mine = [
        UsageRecord(
            tenant=tenant,
            model_group="m",
            status=200,
            ts=at,
            **{"cache_result": r, "saved_cost": 0.5 if r and r.endswith("hit") else 0.0},
        )
        for r in results
    ]
    await fill(store, mine, tmp_path)
    async with store.engine.connect() as conn:
        got = await traffic(conn, SeriesQuery.last(timedelta(minutes=15), tenant, END))
    assert got.cache is not None
    assert (sum(got.cache["hits"]), sum(got.cache["lookups"])) == (2, 4)
    assert [r for r in got.cache["hit_rate"] if r is not None] == [0.5]
    assert sum(got.cache["saved_cost"]) == pytest.approx(1.0)


async def test_latency_bins_are_the_same_on_both_databases(store: Store) -> None:
    values = [0.0, 0.5, 1.0, 1.0001, 2.0, 100.0, 999.9, *LATENCY_BOUNDS_MS[::7], 2.0**17, 1e9]
    async with store.engine.connect() as conn:
        got = [
            (await conn.execute(select(latency_bin(literal(v, Float()))))).scalar_one()
            for v in values
        ]
    assert got == [bisect.bisect_right(LATENCY_BOUNDS_MS, v) for v in values]
