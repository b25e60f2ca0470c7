"""The local Redis and PostgreSQL the tests use: skipped when absent, failed when CI=true."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from flightdeck.store.database import Store

REDIS_URL = os.environ.get("FLIGHTDECK_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_DSN = os.environ.get(
    "FLIGHTDECK_TEST_PG", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(host: str, port: int, what: str) -> None:
    if port_open(host, port):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not reachable at {host}:{port} (CI=true requires it)")
    pytest.skip(f"{what} is not reachable at {host}:{port}")


async def delete_keys(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix unique to one test; its keys are deleted afterwards."""
    require("127.0.0.1", 6379, "Redis")
    prefix = f"fdtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    await delete_keys(prefix)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session; dropped at the end."""
    require(PG_HOST, PG_PORT, "PostgreSQL")
    name = f"fdtest_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:  # in a thread of its own: a test's event loop may be running
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(sql)).result(60)

    run(f'CREATE DATABASE "{name}"')
    yield name
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(database: str, host: str = PG_HOST, port: int = PG_PORT) -> str:
    return f"postgresql+asyncpg://postgres@{host}:{port}/{database}"


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL database of its own for one test (for fixtures with fixed names)."""
    require(PG_HOST, PG_PORT, "PostgreSQL")
    name = f"fdtest_{uuid.uuid4().hex[:12]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_sql(sql: str) -> None:
    async def execute() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: a test's event loop may be running
        pool.submit(asyncio.run, execute()).result(60)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated store, once on SQLite and once on the session's PostgreSQL database."""
    if request.param == "sqlite":
        s = Store(f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}")
    else:
        s = Store(pg_url(request.getfixturevalue("pg_database")))
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared by the session
