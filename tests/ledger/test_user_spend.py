"""A month's spend of one OAuth user (what seeds a per-user budget), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flightdeck.ledger.queries import user_month_spend
from flightdeck.ledger.record import UsageRecord
from flightdeck.store.database import Store
from tests.ledger.test_queries import fill


async def test_user_month_spend_counts_only_that_users_tokenless_calls_that_month(
    store: Store, tenant: str, tmp_path: Path
) -> None:
    def spent(
        user: str, cost: float, month: int, day: int = 15, key_id: int | None = None
    ) -> UsageRecord:
        ts = datetime(2026, month, day, 12, tzinfo=UTC)
        return UsageRecord(
            tenant=tenant, model_group="gpt", status=200, user=user, cost=cost, ts=ts, key_id=key_id
        )

    await fill(
        store,
        [
            spent("alice", 1.25, 11, day=1),
            spent("alice", 2.0, 11, day=30),
            spent("alice", 4.0, 10, day=31),  # last month
            spent("alice", 8.0, 12, day=1),  # next month
            spent("bob", 16.0, 11),
            spent("alice", 32.0, 11, key_id=5),  # made with a key: not the OAuth user
            UsageRecord(tenant=tenant + "x", model_group="gpt", status=200, user="alice", cost=64.0,
                        ts=datetime(2026, 11, 15, tzinfo=UTC)),
        ],
        tmp_path,
    )  # fmt: skip
    async with store.engine.connect() as conn:
        assert await user_month_spend(conn, tenant, "alice", "202611") == 3.25
        assert await user_month_spend(conn, tenant, "bob", "202611") == 16.0
        assert await user_month_spend(conn, tenant, "carol", "202611") == 0.0
        assert await user_month_spend(conn, tenant, "alice", "202612") == 8.0
