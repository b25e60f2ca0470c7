"""``flightdeck migrate``: the schema to head once, however many processes run it together."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from flightdeck.store.database import Store, head_revision
from tests.cli.test_cli import flightdeck
from tests.tenancy_support.services import fresh_pg_url  # noqa: F401


def store_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "flightdeck.toml"
    path.write_text(f'[store]\nurl = "{url}"\n')
    return path


def test_migrate_brings_a_store_to_head_and_then_has_nothing_to_do(tmp_path: Path) -> None:
    config = str(store_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"))
    pending = flightdeck("migrate", "--check", "--config", config, cwd=tmp_path)
    assert pending.returncode == 1
    assert f"store at an empty schema; head is {head_revision()}" in pending.stderr
    first = flightdeck("migrate", "--config", config, cwd=tmp_path)
    assert first.stdout.strip() == f"store migrated from an empty schema to {head_revision()}"
    again = flightdeck("migrate", "--config", config, cwd=tmp_path)
    assert again.stdout.strip() == f"store already at head {head_revision()}; nothing to do"
    assert flightdeck("migrate", "--check", "--config", config, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_migrating_together_migrate_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"
    else:
        url = request.getfixturevalue("fresh_pg_url")
    config = str(store_config(tmp_path, url))
    argv = [sys.executable, "-m", "flightdeck", "migrate", "--config", config]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    migrated = [out for out in outputs if out.startswith("store migrated")]
    assert len(migrated) == 1, outputs  # one ran the migrations, the others found them done


def test_a_schema_newer_than_this_release_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}"

    async def from_the_future() -> None:
        store = Store(url)
        await store.migrate()
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        await store.close()

    asyncio.run(from_the_future())
    done = flightdeck("migrate", "--config", str(store_config(tmp_path, url)), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "schema is at revision '9999', which this release" in done.stderr
