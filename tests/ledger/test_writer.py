"""The batched writer on real SQLite and PostgreSQL: nothing lost on shutdown, outage or kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageDaily, UsageRow
from tests.tenancy_support.services import pg_url
from tests.tenancy_support.tcp_proxy import TcpProxy


async def stored(store: Store, tenant: str) -> tuple[int, int, int]:
    """(records, rollup requests, rollup input tokens) of a tenant."""
    async with store.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).where(UsageRow.tenant == tenant))).scalar()
        req, tok = (
            await conn.execute(
                select(func.sum(UsageDaily.requests), func.sum(UsageDaily.input_tokens)).where(
                    UsageDaily.tenant == tenant
                )
            )
        ).one()
    return int(n or 0), int(req or 0), int(tok or 0)


async def wait_for(store: Store, tenant: str, count: int, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if (await stored(store, tenant))[0] >= count:
            return
        await asyncio.sleep(0.05)


def spooled(base: Path) -> list[Path]:
    return list(base.glob("slot-*/*.jsonl"))


def usage(tenant: str, i: int) -> UsageRecord:
    return UsageRecord(tenant=tenant, model_group="gpt", status=200, key_id=1, input_tokens=i)


async def test_records_reach_the_database_in_the_background(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    writer = LedgerWriter(store.engine, Spool(tmp_path / "spool"), flush_interval=0.05)
    await writer.start()
    for i in range(100):
        writer.record(usage(tenant, i))
    await wait_for(store, tenant, 100)
    assert await stored(store, tenant) == (100, 100, sum(range(100)))
    assert writer.health()["state"] == "ok"
    await writer.close()
    assert spooled(tmp_path / "spool") == []  # written: removed


async def test_graceful_shutdown_writes_everything(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    writer = LedgerWriter(store.engine, Spool(tmp_path / "spool"), flush_interval=60)
    await writer.start()
    for _ in range(1234):
        writer.record(usage(tenant, 1))
    await writer.close()
    assert await stored(store, tenant) == (1234, 1234, 1234)


async def test_replaying_a_segment_twice_stores_it_once(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    records = [usage(tenant, 2) for _ in range(10)]
    seg = Spool(spool_dir)
    seg.open()
    path = seg.append(records)
    copy = path.read_bytes()
    seg.close()
    for _ in range(2):  # e.g. a crash after the commit but before the segment was removed
        path.write_bytes(copy)
        writer = LedgerWriter(store.engine, Spool(spool_dir), flush_interval=0.05)
        await writer.start()
        await writer.close()
    assert await stored(store, tenant) == (10, 10, 20)


async def test_a_torn_last_line_is_skipped(store: Store, tenant: str, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    seg = Spool(spool_dir)
    seg.open()
    path = seg.append([usage(tenant, 1) for _ in range(3)])
    seg.close()
    with path.open("ab") as f:
        f.write(b'{"tenant": "half-writ')
    writer = LedgerWriter(store.engine, Spool(spool_dir))
    await writer.start()
    await writer.close()
    assert await stored(store, tenant) == (3, 3, 3)


async def test_processes_sharing_a_spool_take_slots_and_adopt_orphans(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)
    first.open()
    second.open()
    assert first.directory != second.directory  # each process its own slot
    second.append([usage(tenant, 1) for _ in range(4)])
    second.close()  # as if that process died with records not yet in the database
    first.close()
    writer = LedgerWriter(store.engine, Spool(tmp_path))  # takes slot 0, adopts slot 1
    await writer.start()
    await writer.close()
    assert await stored(store, tenant) == (4, 4, 4)
    assert spooled(tmp_path) == []


async def test_kill_9_loses_nothing_older_than_the_flush_interval(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    worker = Path(__file__).with_name("spool_worker.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(worker), str(spool_dir), tenant, "500", stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"spooled"
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    writer = LedgerWriter(store.engine, Spool(spool_dir))  # the next start replays the spool
    await writer.start()
    await writer.close()
    assert await stored(store, tenant) == (500, 500, sum(range(500)))


async def test_postgresql_outage_is_spooled_and_written_when_back(
    pg_database: str, tenant: str, tmp_path: Path
) -> None:
    with TcpProxy("127.0.0.1", 5432) as proxy:
        via_proxy = Store(pg_url(pg_database, port=proxy.port))
        direct = Store(pg_url(pg_database))
        await direct.migrate()
        writer = LedgerWriter(
            via_proxy.engine, Spool(tmp_path / "spool"), flush_interval=0.05, write_timeout=2
        )
        await writer.start()
        for i in range(50):
            writer.record(usage(tenant, i))
        await wait_for(direct, tenant, 50)

        proxy.cut()
        for i in range(50, 300):
            writer.record(usage(tenant, i))
            if i % 50 == 0:
                await asyncio.sleep(0.1)
        for _ in range(100):
            if writer.health()["state"] == "spooling":
                break
            await asyncio.sleep(0.05)
        assert writer.health()["state"] == "spooling"
        assert (await stored(direct, tenant))[0] == 50
        assert len(spooled(tmp_path / "spool")) >= 1

        proxy.restore()
        await wait_for(direct, tenant, 300)
        assert await stored(direct, tenant) == (300, 300, sum(range(300)))
        await writer.close()
        assert writer.health()["state"] == "ok"
        await via_proxy.close()
        await direct.close()


async def test_a_durable_commit_returns_only_once_its_record_is_on_disk(
    tenant: str, tmp_path: Path
) -> None:
    """``[ledger] sync_before_reply``: the gateway answers after ``commit``, so a kill -9 right
    after the answer still finds the record in the spool (here no database is reachable, and
    the flush interval is a minute: only the commit itself can have written it)."""
    unreachable = Store("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    writer = LedgerWriter(
        unreachable.engine, Spool(tmp_path / "spool"), flush_interval=60, durable=True
    )
    await writer.start()
    try:
        await asyncio.gather(*(writer.commit(usage(tenant, i)) for i in range(3)))
        on_disk = [r for p in spooled(tmp_path / "spool") for r in Spool(p.parent).read(p)]
        assert sorted(r.input_tokens for r in on_disk) == [0, 1, 2]
        writer.record(usage(tenant, 3))  # record() does not wait: buffered for the next flush
        on_disk = [r for p in spooled(tmp_path / "spool") for r in Spool(p.parent).read(p)]
        assert len(on_disk) == 3
    finally:
        writer.durable = False
        await writer.close(grace_seconds=0.5)
        await unreachable.close()
