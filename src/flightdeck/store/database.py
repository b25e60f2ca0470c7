"""Opening the store: an async engine, a session factory, and migrations to head."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATE_LOCK = 0x666C6474  # PostgreSQL advisory lock id held while migrating ("fldt")


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
        if parsed.get_backend_name() == "sqlite" and is_file:  # a "file:" URI opens as given
            private_sqlite_file(Path(database))
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # replicas starting together migrate in turn
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            await conn.run_sync(_upgrade_to_head)

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


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
