"""Users and conversations stored before identities were bound to issuers keep working: the
migration keeps the rows, and the server's start gives them the configured issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text

from flightdeck.assistant.conversations import ConversationStore
from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.keys import Principal, Role
from flightdeck.auth.legacy import adopt_legacy_identities
from flightdeck.core.tenancy_settings import OAuthIssuer, OAuthSettings
from flightdeck.store.database import Store, alembic_config
from tests.tenancy_support.services import fresh_pg_url  # noqa: F401

OLD, NEW = "https://old-idp.test/", "https://new-idp.test/"


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


@pytest.fixture(params=["sqlite", "postgresql"])
async def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A store at migration 0005 with one registered user and one OAuth user's conversation,
    then migrated to head."""
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_pg_url")
    )
    store = Store(url)
    async with store.engine.begin() as conn:
        await conn.run_sync(_upgrade, "0005")
        await conn.execute(
            text(
                "INSERT INTO accounts (tenant, name, kind, role, subject, created_at) "
                "VALUES ('acme', 'alice', 'user', 'viewer', 'sub-1', CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO assistant_conversations "
                "(id, tenant, owner_user, title, model, created_at, updated_at) VALUES "
                "('c1', 'acme', 'sub-1', 't', 'm', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    await store.migrate()
    yield store
    await store.close()


def oauth(*issuers: str, legacy: str | None = None) -> OAuthSettings:
    configs = [
        OAuthIssuer(issuer=i, jwks_url="https://idp.test/jwks", audience="a", tenants=["*"])
        for i in issuers
    ]
    return OAuthSettings(issuers=configs, legacy_issuer=legacy)


async def test_rows_wait_until_an_issuer_is_configured_then_take_it(old_store: Store) -> None:
    accounts = AccountStore(old_store)
    assert await adopt_legacy_identities(old_store, OAuthSettings()) == 0
    assert await accounts.user_role("acme", OLD, "sub-1") is None  # no issuer matches yet

    assert await adopt_legacy_identities(old_store, oauth(NEW, OLD, legacy=OLD)) == 2
    assert await accounts.user_role("acme", OLD, "sub-1") is Role.VIEWER
    assert await accounts.user_role("acme", NEW, "sub-1") is None
    conversations = ConversationStore(old_store)
    alice = Principal(None, "sub-1", "acme", Role.VIEWER, user="sub-1", issuer=OLD)
    assert [c["id"] for c in await conversations.list_for(alice)] == ["c1"]
    twin = Principal(None, "sub-1", "acme", Role.VIEWER, user="sub-1", issuer=NEW)
    assert await conversations.list_for(twin) == []
    assert await adopt_legacy_identities(old_store, oauth(NEW, OLD, legacy=OLD)) == 0  # once


async def test_without_legacy_issuer_the_first_configured_issuer_adopts(old_store: Store) -> None:
    assert await adopt_legacy_identities(old_store, oauth(OLD, NEW)) == 2
    assert await AccountStore(old_store).user_role("acme", OLD, "sub-1") is Role.VIEWER
