from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flightdeck.store.database import Store
from tests.tenancy_support.services import pg_database, pg_url  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    else:
        s = Store(pg_url(request.getfixturevalue("pg_database")))
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"
