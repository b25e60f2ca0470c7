"""Usage-query benchmark: fill PostgreSQL with N usage records, then time ``GET /admin/usage``'s
query (``flightdeck.ledger.queries.query_usage``) for one tenant over a month.

    python -m bench.ledger.run --records 10000000          # ~10 min on 2 cores
    python -m bench.ledger.run --records 1000000 --reuse    # time again without refilling

It creates (or reuses) the database ``fd_bench_ledger`` next to ``--admin-dsn``, migrates it with
the same Alembic migrations as the gateway, generates the records inside PostgreSQL
(``generate_series``, so no client round trips), rebuilds the ``usage_daily`` rollup exactly as
the ledger writer keeps it, runs ``VACUUM ANALYZE``, then reports latency percentiles for
``group_by`` model/key/day and writes ``EXPLAIN (ANALYZE, BUFFERS)`` plans.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.dialects import postgresql

from flightdeck.ledger.queries import (
    GroupBy,
    UsageQuery,
    _records_query,
    _rollup_query,
    query_usage,
    split_range,
)
from flightdeck.store.database import Store

console = Console()
END = datetime(2026, 11, 1, tzinfo=UTC)  # records span the days before this
MODELS = ["gpt-4o", "gpt-4o-mini", "llama-70b", "llama-8b", "minilm", "claude"]

FILL = """
INSERT INTO usage_records (record_id, ts, tenant, key_id, "user", model_group, deployment,
  input_tokens, output_tokens, cached_tokens, cost, latency_ms, ttft_ms, status, error_type,
  trace_id)
SELECT md5(($1::bigint + g)::text),
       $2::timestamptz - (random() * $3::int) * interval '1 day',
       'tenant-' || lpad((floor(power(random(), 2) * $4::int))::int::text, 3, '0'),
       1 + floor(random() * $5::int)::int,
       NULL,
       ($6::text[])[1 + floor(random() * array_length($6::text[], 1))::int],
       'dep-' || floor(random() * 3)::int,
       (random() * 2000)::int, (random() * 500)::int, (random() * 200)::int,
       random() * 0.01, random() * 2000, random() * 300,
       CASE WHEN random() < 0.02 THEN 502 ELSE 200 END, NULL, NULL
FROM generate_series(1, $7::bigint) AS g
"""

ROLLUP = """
INSERT INTO usage_daily (tenant, day, model_group, key_id, requests, errors, input_tokens,
  output_tokens, cached_tokens, cost)
SELECT tenant, (ts AT TIME ZONE 'UTC')::date, model_group, coalesce(key_id, 0), count(*),
       sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), sum(input_tokens), sum(output_tokens),
       sum(cached_tokens), sum(cost)
FROM usage_records GROUP BY 1, 2, 3, 4
"""


async def fill(dsn: str, records: int, tenants: int, days: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE usage_records, usage_daily")
        chunk = 500_000
        with Progress(console=console) as progress:
            task = progress.add_task("inserting usage records", total=records)
            done = 0
            while done < records:
                n = min(chunk, records - done)
                await conn.execute(FILL, done, END, days, tenants, 8, MODELS, n)
                done += n
                progress.update(task, completed=done)
        started = time.perf_counter()
        await conn.execute(ROLLUP)
        console.print(f"rollup built in {time.perf_counter() - started:.1f} s")
        await conn.execute("VACUUM ANALYZE usage_records")
        await conn.execute("VACUUM ANALYZE usage_daily")
    finally:
        await conn.close()


async def time_queries(store: Store, tenant: str, runs: int) -> dict[str, list[float]]:
    # A month with partial days at both ends: the worst case (two edge scans + the rollup).
    start = END - timedelta(days=30, hours=-7, minutes=-13)
    end = END - timedelta(hours=5)
    timings: dict[str, list[float]] = {}
    async with store.engine.connect() as conn:
        for by in GroupBy:
            q = UsageQuery(tenant, start, end, by)
            await query_usage(conn, q)  # warm the connection and caches
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await query_usage(conn, q)
                samples.append((time.perf_counter() - t0) * 1000)
            timings[by.value] = samples
    return timings


async def explain(dsn: str, tenant: str) -> str:
    start = END - timedelta(days=30, hours=-7, minutes=-13)
    end = END - timedelta(hours=5)
    q = UsageQuery(tenant, start, end, GroupBy.MODEL)
    edges, first, last = split_range(start, end)
    statements = [("rollup (whole days)", _rollup_query(q, first, last))]
    statements += [
        (f"records (edge {a:%Y-%m-%d %H:%M}..{b:%H:%M})", _records_query(q, a, b)) for a, b in edges
    ]
    conn = await asyncpg.connect(dsn)
    out = []
    try:
        for title, stmt in statements:
            sql = str(
                stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            )
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            out.append(f"-- {title}\n{sql}\n\n" + "\n".join(r[0] for r in rows))
    finally:
        await conn.close()
    return "\n\n".join(out)


async def main(args: argparse.Namespace) -> str:
    admin = await asyncpg.connect(args.admin_dsn)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", args.database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{args.database}"')
    finally:
        await admin.close()
    base = args.admin_dsn.rsplit("/", 1)[0]
    dsn = f"{base}/{args.database}"
    store = Store(dsn.replace("postgresql://", "postgresql+asyncpg://"))
    await store.migrate()
    if not args.reuse:
        started = time.perf_counter()
        await fill(dsn, args.records, args.tenants, args.days)
        console.print(f"filled {args.records:,} records in {time.perf_counter() - started:.0f} s")
    conn = await asyncpg.connect(dsn)
    total = await conn.fetchval("SELECT count(*) FROM usage_records")
    tenant_rows = await conn.fetchval(
        "SELECT count(*) FROM usage_records WHERE tenant = $1", args.tenant
    )
    rollup_rows = await conn.fetchval("SELECT count(*) FROM usage_daily")
    await conn.close()
    timings = await time_queries(store, args.tenant, args.runs)
    await store.close()
    console.print(
        f"records: {total:,}; tenant {args.tenant}: {tenant_rows:,}; rollup rows: {rollup_rows:,}"
    )
    for by, samples in timings.items():
        samples.sort()
        p50 = statistics.median(samples)
        p95 = samples[int(len(samples) * 0.95) - 1]
        console.print(
            f"group_by={by:<6} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {samples[-1]:6.2f} ms"
        )
    return await explain(dsn, args.tenant)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="fd_bench_ledger")
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--tenant", default="tenant-000", help="the tenant queried (the busiest)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="keep the records already there")
    parser.add_argument("--plans", default=None, help="write EXPLAIN ANALYZE output to this file")
    arguments = parser.parse_args()
    plans = asyncio.run(main(arguments))
    if arguments.plans:
        Path(arguments.plans).write_text(plans + "\n")
        console.print(f"query plans written to {arguments.plans}")
