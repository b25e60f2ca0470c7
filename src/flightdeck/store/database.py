"""Opening the store: an async engine, a session factory, and migrations to head.

Migrations run once however many processes start together: on PostgreSQL under an advisory
lock (``pg_advisory_xact_lock``), on SQLite under a file lock beside the database file. A store
already at head is only read (no lock, no Alembic upgrade), so a second start migrates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from filelock import FileLock
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from flightdeck.core.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATE_LOCK = 0x666C6474  # PostgreSQL advisory lock id held while migrating ("fldt")
log = logging.getLogger("flightdeck.store")


@dataclass(frozen=True)
class Migration:
    """What :meth:`Store.migrate` did: the schema revision before and after (None: empty)."""

    before: str | None
    after: str | None

    @property
    def applied(self) -> bool:
        """True when this call changed the schema."""
        return self.before != self.after


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file (and its missing folders) readable by this user only: 0600 for
    the file, 0700 for folders it creates. An existing file open to others is narrowed to 0600.

    SQLite gives its journal and WAL files the database file's mode, so they stay private too.
    The database holds key hashes, usage and conversations (page text), which no other local
    user should read."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        info = os.fstat(fd)
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class Store:
    """One database (SQLite by default, PostgreSQL in production) shared by every plane."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        database = parsed.database or ""
        is_file = database not in ("", ":memory:") and not database.startswith("file:")
        self.sqlite_file: Path | None = None
        if parsed.get_backend_name() == "sqlite" and is_file:  # a "file:" URI opens as given
            self.sqlite_file = Path(database)
            private_sqlite_file(self.sqlite_file)
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(current_revision)

    async def migrate(self) -> Migration:
        """Bring the schema to the newest migration, once across processes (idempotent).

        Raises ConfigError when the database is at a revision this release does not know
        (it was migrated by a newer release: upgrade Flightdeck or restore a backup).
        """
        head = head_revision()
        current = await self.revision()
        if current == head:
            return Migration(current, current)
        async with self._file_lock(), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # replicas starting together migrate in turn
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            before = await conn.run_sync(current_revision)  # another process may have done it
            try:
                await conn.run_sync(_upgrade_to_head)
            except CommandError as exc:
                raise ConfigError(
                    f"store: the database schema is at revision {before!r}, which this release "
                    f"(head {head!r}) does not know: {exc}"
                ) from None
            after = await conn.run_sync(current_revision)
        done = Migration(before, after)
        if done.applied:
            log.info("store schema migrated from %s to %s", before or "empty", after)
        return done

    @contextlib.asynccontextmanager
    async def _file_lock(self) -> AsyncIterator[None]:
        """SQLite: processes sharing the file migrate in turn (PostgreSQL locks in the DB)."""
        if self.sqlite_file is None:
            yield
            return
        lock = FileLock(f"{self.sqlite_file}.migrate-lock")
        await asyncio.to_thread(lock.acquire)
        try:
            yield
        finally:
            lock.release()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # readiness probe: any failure means "not ready"
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest migration this release ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database's ``alembic_version`` table (None: none yet)."""
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
