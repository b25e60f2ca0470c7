"""A gateway stand-in for the kill -9 test: records usage with the database unreachable.

Usage: python spool_worker.py SPOOL_DIR TENANT COUNT
Prints 'spooled' once every record is older than the flush interval, then waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.ledger.writer import LedgerWriter
from flightdeck.store.database import Store


async def main(spool_dir: str, tenant: str, count: int) -> None:
    dead = Store("postgresql+asyncpg://postgres@127.0.0.1:9/none")  # nothing listens on port 9
    writer = LedgerWriter(dead.engine, Spool(Path(spool_dir)), flush_interval=0.2)
    await writer.start()
    for i in range(count):
        writer.record(UsageRecord(tenant=tenant, model_group="m", status=200, input_tokens=i))
    await asyncio.sleep(0.5)  # more than the flush interval
    print("spooled", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
