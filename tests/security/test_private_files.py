"""Files that hold tenants' data are readable by the server's user only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool
from flightdeck.store.database import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_sqlite_file_and_its_folder_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask: without care, files would be 0644
    try:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / 'home' / 'fd.db'}")
        await store.migrate()
        await store.close()
        loose = tmp_path / "loose.db"
        loose.touch(mode=0o644)
        await Store(f"sqlite+aiosqlite:///{loose}").close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "home" / "fd.db") == 0o600
    assert mode(tmp_path / "home") == 0o700
    assert mode(loose) == 0o600  # an existing file open to others is narrowed


def test_the_ledger_spool_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        spool = Spool(tmp_path / "spool" / "ledger")
        spool.open()
        segment = spool.append([UsageRecord(tenant="acme", model_group="m", status=200)])
        spool.close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "spool") == 0o700
    assert mode(tmp_path / "spool" / "ledger") == 0o700
    assert mode(spool.directory) == 0o700
    assert mode(segment) == 0o600
