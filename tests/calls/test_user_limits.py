"""OAuth users (a token, no API key) each get ``[limits] default_user``, beside their tenant's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flightdeck.auth.keys import Principal, Role
from flightdeck.calls.accounting import Accounting
from flightdeck.core.errors import RateLimited
from flightdeck.core.settings import Settings, load_settings
from flightdeck.store.database import Store

ALICE = Principal(None, "alice", "acme", Role.MEMBER, user="alice")
BOB = Principal(None, "bob", "acme", Role.MEMBER, user="bob")
ROBOT = Principal(7, "ci-1", "acme", Role.MEMBER, user="service:ci")
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}


def settings_with(tmp_path: Path, default_user: dict[str, float]) -> Settings:
    return load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path),
            "limits": {
                "policy_cache_seconds": 0,
                "default_user": default_user,
                "prices": {"gpt": {"input": 2.0, "output": 8.0}},
            },
        },
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}")
    await s.migrate()
    yield s
    await s.close()


async def test_each_oauth_user_has_their_own_window(tmp_path: Path, store: Store) -> None:
    acc = Accounting.from_settings(settings_with(tmp_path, {"requests_per_minute": 2}), store)
    await acc.start()
    for _ in range(2):
        await acc.admit(ALICE, "gpt", CHAT)
    with pytest.raises(RateLimited) as err:
        await acc.admit(ALICE, "gpt", CHAT)
    assert "user:acme/alice" in err.value.message
    await acc.admit(BOB, "gpt", CHAT)  # another user is not held back by alice
    for _ in range(3):
        await acc.admit(ROBOT, "gpt", CHAT)  # keys have key limits, not user limits
    await acc.close()


async def test_unlimited_default_adds_no_scope(tmp_path: Path, store: Store) -> None:
    acc = Accounting.from_settings(settings_with(tmp_path, {}), store)
    scopes = await acc.policies.scopes_for("acme", None, "alice")
    assert [s.name for s in scopes] == ["tenant:acme"]
    await acc.close()


async def test_user_budget_is_seeded_from_the_ledger_on_a_new_replica(
    tmp_path: Path, store: Store
) -> None:
    settings = settings_with(tmp_path, {"monthly_budget": 0.01})
    acc = Accounting.from_settings(settings, store)
    await acc.start()
    ticket = await acc.admit(ALICE, "gpt", CHAT)
    await acc.settle(ticket, status=200, usage={"prompt_tokens": 5000, "completion_tokens": 0})
    await acc.close()  # flushes the ledger

    fresh = Accounting.from_settings(settings, store)
    await fresh.start()
    with pytest.raises(RateLimited) as err:
        await fresh.admit(ALICE, "gpt", CHAT)
    assert err.value.code == "budget_exceeded" and "user:acme/alice" in err.value.message
    await fresh.admit(BOB, "gpt", CHAT)
    await fresh.close()
