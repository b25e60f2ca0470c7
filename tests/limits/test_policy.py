"""Stored limit policies: defaults, per-key overrides, and the last known policy when the
database is unreachable."""

from __future__ import annotations

from pathlib import Path

from flightdeck.core.tenancy_settings import LimitRule, LimitsSettings
from flightdeck.limits.policy import PolicyStore
from flightdeck.limits.scopes import MICROS, UNLIMITED, KeyScope, Scope, TenantScope, UserScope
from flightdeck.store.database import Store


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_scopes_use_stored_policies_over_defaults_and_survive_a_db_outage(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await store.migrate()
    settings = LimitsSettings(default_key=LimitRule(requests_per_minute=10), policy_cache_seconds=5)
    clock = Clock()
    policies = PolicyStore(store, settings, clock=clock)
    await policies.set("acme", LimitRule(tokens_per_minute=500, monthly_budget=2.5))
    await policies.set("acme", LimitRule(requests_per_minute=3), key_id=4)
    expected = [
        Scope("key:4", requests_per_minute=3),
        Scope("tenant:acme", tokens_per_minute=500, monthly_budget_micros=int(2.5 * MICROS)),
    ]
    assert await policies.scopes_for("acme", 4) == expected
    assert (await policies.scopes_for("acme", 5))[0] == Scope("key:5", requests_per_minute=10)
    assert await policies.scopes_for("acme", None) == expected[1:]

    policies.store = Store("postgresql+asyncpg://postgres@127.0.0.1:9/none")  # unreachable
    clock.now += 60  # every cache entry is stale now
    assert await policies.scopes_for("acme", 4) == expected  # last known, not an error
    other = await policies.scopes_for("globex", None)  # never seen: the defaults
    assert other == [Scope("tenant:globex")]
    assert other[0].requests_per_minute == UNLIMITED
    await policies.store.close()
    await store.close()


async def test_scopes_say_whose_they_are_as_typed_owners(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await store.migrate()
    settings = LimitsSettings(default_user=LimitRule(requests_per_minute=5))
    policies = PolicyStore(store, settings)
    by_key = await policies.scopes_for("acme", 4)
    by_user = await policies.scopes_for("acme", None, "alice/bob")  # a '/' in a user name
    assert [s.owner for s in by_key] == [KeyScope(4), TenantScope("acme")]
    assert [s.owner for s in by_user] == [UserScope("acme", "alice/bob"), TenantScope("acme")]
    assert by_user[0].name == "user:acme/alice/bob"
    await store.close()
