"""What one console poll costs the database: the series queries of ``ledger/series.py`` over N
usage records in PostgreSQL (filled like ``bench/ledger``), for ranges from 1 hour to 30 days,
one tenant and every tenant.

    python -m bench.console.queries --records 1000000        # fills fd_bench_console first
    python -m bench.console.queries --records 1000000 --reuse
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta

import asyncpg
from rich.console import Console
from rich.table import Table

from bench.ledger.run import END, fill
from flightdeck.ledger.series import SeriesQuery, slowest, traffic, usage_by_tenant_model
from flightdeck.store.database import Store

console = Console()
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "30d": timedelta(days=30)}


async def time_panels(store: Store, tenant: str | None, span: timedelta, runs: int) -> list[float]:
    """Milliseconds per poll (traffic + usage + slow), ``runs`` times."""
    q = SeriesQuery.last(span, tenant, END)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        async with store.engine.connect() as conn:
            await traffic(conn, q)
            await usage_by_tenant_model(conn, q)
            await slowest(conn, q)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def main(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(args.admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", args.database):
            await admin.execute(f'CREATE DATABASE "{args.database}"')
    finally:
        await admin.close()
    dsn = f"{args.admin_dsn.rsplit('/', 1)[0]}/{args.database}"
    store = Store(dsn.replace("postgresql://", "postgresql+asyncpg://"))
    await store.migrate()
    if not args.reuse:
        await fill(dsn, args.records, args.tenants, 30)
    table = Table(title=f"one console poll over {args.records:,} records (PostgreSQL)")
    for column in ("range", "scope", "median ms", "max ms"):
        table.add_column(column)
    for name, span in RANGES.items():
        for scope in (args.tenant, None):
            samples = await time_panels(store, scope, span, args.runs)
            table.add_row(
                name,
                scope or "every tenant",
                f"{statistics.median(samples):.0f}",
                f"{max(samples):.0f}",
            )
    await store.close()
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="fd_bench_console")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--tenant", default="tenant-000", help="the busiest tenant")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true")
    asyncio.run(main(parser.parse_args()))
