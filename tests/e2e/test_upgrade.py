"""Upgrade: a PostgreSQL store made by the previous release (its code taken from git history)
is migrated by this one with every key, user, budget and usage record intact, the old keys
still work, and a second start migrates nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from flightdeck.store.database import Store, head_revision
from flightdeck.testing.server import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "5febfc3"  # main when replicas and `flightdeck migrate` were added

# Run with the previous release's code on the path: what an operator's store holds.
POPULATE = """
import asyncio, json, sys
from flightdeck.auth.accounts import AccountKind, AccountStore
from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings
from flightdeck.ledger.persist import write_batch
from flightdeck.ledger.record import UsageRecord
from flightdeck.limits.policy import PolicyStore
from flightdeck.store.database import Store

async def main(url):
    store = Store(url)
    await store.migrate()
    keys, accounts = KeyStore(store), AccountStore(store)
    await TenantStore(store).create("acme", "Acme Inc.")
    _, admin = await keys.create("ops", role=Role.ADMIN, tenant="default")
    member_row, member = await keys.create("app", role=Role.MEMBER, tenant="acme")
    robot = await accounts.create("acme", "robot", kind=AccountKind.SERVICE)
    await keys.create("robot-key", tenant="acme", account_id=robot.id)
    await accounts.create(
        "acme", "alice", kind=AccountKind.USER, role=Role.ADMIN, subject="alice@example.com"
    )
    await PolicyStore(store, LimitsSettings()).set(
        "acme", LimitRule(requests_per_minute=600, monthly_budget=25.0)
    )
    records = [
        UsageRecord(tenant="acme", model_group="m", status=200, key_id=member_row.id,
                    input_tokens=i, output_tokens=2 * i, cost=i / 1000)
        for i in range(50)
    ]
    async with store.engine.begin() as conn:
        await write_batch(conn, records, 500)
    await store.close()
    print(json.dumps({"admin": admin, "member": member}))

asyncio.run(main(sys.argv[1]))
"""


def previous_release(into: Path) -> Path:
    """The previous release's ``src`` folder, from git history (CI clones with history)."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE, "src"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"commit {PREVIOUS_RELEASE} is not in git history: {exc}") from exc
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not in this checkout's history")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run(src: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


async def snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (but the schema version), in primary-key order."""
    store = Store(url)
    try:
        async with store.engine.connect() as conn:

            def read(sync: Any) -> dict[str, list[dict[str, Any]]]:
                found = inspect(sync)
                tables = {}
                for name in found.get_table_names():
                    if name == "alembic_version":
                        continue
                    order = ", ".join(found.get_pk_constraint(name)["constrained_columns"])
                    rows = sync.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))
                    tables[name] = [dict(row._mapping) for row in rows]
                return tables

            return await conn.run_sync(read)
    finally:
        await store.close()


async def revision(url: str) -> str | None:
    store = Store(url)
    try:
        return await store.revision()
    finally:
        await store.close()


def kept(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> None:
    """Every old row is still there with its old values (new columns may be added)."""
    for table, rows in before.items():
        assert table in after, f"table {table} is gone"
        assert len(after[table]) == len(rows), table
        for old, new in zip(rows, after[table], strict=True):
            assert {column: new[column] for column in old} == old, table


def get(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status


def test_previous_release_store_is_migrated_with_everything_intact(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    old = previous_release(tmp_path / "previous")
    made = run(old, "-c", POPULATE, fresh_pg_url)
    assert made.returncode == 0, made.stderr
    keys = json.loads(made.stdout.splitlines()[-1])
    before = asyncio.run(snapshot(fresh_pg_url))
    assert len(before["usage_records"]) == 50
    assert {row["name"] for row in before["accounts"]} == {"robot", "alice"}

    config = tmp_path / "flightdeck.toml"
    port = free_port()
    config.write_text(
        f'home = "{tmp_path / "home"}"\n[server]\nport = {port}\n'
        f'[store]\nurl = "{fresh_pg_url}"\n'
        '[[models]]\nname = "m"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    new = ROOT / "src"
    first = run(new, "-m", "flightdeck", "migrate", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert asyncio.run(revision(fresh_pg_url)) == head_revision()
    kept(before, asyncio.run(snapshot(fresh_pg_url)))

    # The next start (a server, as after an upgrade) finds the schema at head: no migration.
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        env = {**os.environ, "PYTHONPATH": f"{new}{os.pathsep}{ROOT}"}
        argv = [sys.executable, "-m", "flightdeck", "serve", "--config", str(config)]
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        statuses = wait_and_get(f"http://127.0.0.1:{port}", keys, server, log)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    assert statuses == {"admin": 200, "member": 200}  # old keys authenticate
    assert "migrated" not in log.read_text()
    print(f"\nupgrade from {PREVIOUS_RELEASE}: {first.stdout.strip()}")


def wait_and_get(
    url: str, keys: dict[str, str], server: subprocess.Popen[bytes], log: Path
) -> dict[str, int]:
    for _ in range(600):
        try:
            return {
                "admin": get(url + "/admin/tenants", keys["admin"]),
                "member": get(url + "/v1/models", keys["member"]),
            }
        except OSError:
            if server.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.2)
    raise AssertionError(log.read_text())
