"""Usage queries (rollup for whole days, records for the edges) agree with a plain recount."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flightdeck.ledger.queries import GroupBy, UsageQuery, month_spend, query_usage, split_range
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.store.database import Store

T0 = datetime(2026, 10, 28, 7, 30, tzinfo=UTC)


def make_records(tenant: str, n: int, seed: int = 7) -> list[UsageRecord]:
    rng = random.Random(seed)
    return [
        UsageRecord(
            tenant=tenant,
            model_group=rng.choice(["gpt-4o", "llama", "minilm"]),
            key_id=rng.choice([1, 2, None]),
            status=rng.choice([200, 200, 200, 429, 502]),
            input_tokens=rng.randint(1, 500),
            output_tokens=rng.randint(0, 300),
            cached_tokens=rng.randint(0, 50),
            cost=rng.randint(0, 1000) / 1000,
            ts=T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 9)),
        )
        for _ in range(n)
    ]


def recount(records: list[UsageRecord], start: datetime, end: datetime, by: GroupBy) -> dict:
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in records:
        if not start <= r.ts < end:
            continue
        group = {
            GroupBy.MODEL: r.model_group,
            GroupBy.KEY: str(r.key_id or 0),
            GroupBy.DAY: r.ts.date().isoformat(),
        }[by]
        s = out[group]
        s[0] += 1
        s[1] += 1 if r.status >= 400 else 0
        s[2] += r.input_tokens + r.output_tokens
        s[3] += r.cost
    return {k: (v[0], v[1], v[2], round(v[3], 6)) for k, v in out.items()}


async def fill(store: Store, records: list[UsageRecord], tmp_path: Path) -> None:
    writer = LedgerWriter(store.engine, Spool(tmp_path / "spool"), flush_interval=60)
    await writer.start()
    for r in records:
        writer.record(r)
    await writer.close()


@pytest.mark.parametrize("by", list(GroupBy))
async def test_usage_matches_a_recount_for_many_ranges(
    store: Store, tenant: str, tmp_path: Path, by: GroupBy
) -> None:
    records = make_records(tenant, 600)
    other = make_records("someone-else", 100, seed=8)
    await fill(store, records + other, tmp_path)
    rng = random.Random(1)
    ranges = [(T0 - timedelta(days=1), T0 + timedelta(days=30))]  # everything
    ranges.append((datetime(2026, 10, 29, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)))
    for _ in range(6):
        a = T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 9))
        ranges.append((a, a + timedelta(minutes=rng.randint(1, 60 * 24 * 5))))
    async with store.engine.connect() as conn:
        for start, end in ranges:
            got = await query_usage(conn, UsageQuery(tenant, start, end, by))
            seen = {
                t.group: (t.requests, t.errors, t.input_tokens + t.output_tokens, round(t.cost, 6))
                for t in got
            }
            assert seen == recount(records, start, end, by), (start, end)


async def test_a_tenant_sees_none_of_another_tenants_usage(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    await fill(store, make_records("neighbour-" + tenant, 50), tmp_path)
    async with store.engine.connect() as conn:
        got = await query_usage(
            conn, UsageQuery(tenant, T0 - timedelta(days=1), T0 + timedelta(days=30))
        )
    assert got == []


async def test_month_spend_sums_the_rollup(store: Store, tenant: str, tmp_path: Path) -> None:
    records = make_records(tenant, 300)
    await fill(store, records, tmp_path)
    async with store.engine.connect() as conn:
        spent = await month_spend(conn, tenant, None, "202611")
        spent_key = await month_spend(conn, tenant, 2, "202611")
    november = [r for r in records if r.ts.month == 11]
    assert spent == pytest.approx(sum(r.cost for r in november))
    assert spent_key == pytest.approx(sum(r.cost for r in november if r.key_id == 2))


def test_split_range_uses_whole_days_between_partial_edges() -> None:
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    end = datetime(2026, 11, 4, 5, tzinfo=UTC)
    edges, first, last = split_range(start, end)
    assert edges == [
        (start, datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 4, tzinfo=UTC), end),
    ]
    assert (first.isoformat(), last.isoformat()) == ("2026-11-02", "2026-11-04")


def test_a_record_row_names_every_field() -> None:
    record = make_records("t", 1)[0]
    beside = {"experiments", "response_id"}  # stored in experiment_requests, not usage_records
    assert set(record.to_row()) == {f.name for f in fields(UsageRecord)} - beside
    assert UsageRecord.from_json(record.to_json()) == record
    tagged = replace(record, experiments=((3, "b", "user-1"),), response_id="chatcmpl-1")
    assert UsageRecord.from_json(record.to_json() | tagged.to_json()) == tagged
