"""admit/settle, the two calls the request path makes: limits, prices and the ledger together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from flightdeck.auth.keys import Principal, Role
from flightdeck.calls.accounting import Accounting
from flightdeck.core.errors import RateLimited
from flightdeck.core.settings import Settings, load_settings
from flightdeck.core.tenancy_settings import LimitRule
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import UsageRow

ALICE = Principal(7, "alice's key", "acme", Role.MEMBER)
BOB = Principal(None, "bob", "acme", Role.MEMBER, user="bob")  # an OAuth user: no key scope
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {},
        defaults={
            "home": str(tmp_path),
            "ledger": {"flush_interval_seconds": 0.05},
            "limits": {
                "policy_cache_seconds": 0,
                "default_key": {"tokens_per_minute": 1000},
                "prices": {
                    "gpt": {"input": 2.0, "output": 8.0, "cached_input": 1.0},
                    "claude": {
                        "input": 3.0,
                        "output": 15.0,
                        "cached_input": 0.3,
                        "cache_write": 3.75,
                        "reasoning": 20.0,
                    },
                },
            },
        },
    )


@pytest.fixture
async def accounting(settings: Settings) -> AsyncIterator[tuple[Accounting, Store]]:
    store = Store(settings.store_url)
    await store.migrate()
    acc = Accounting.from_settings(settings, store)
    await acc.start()
    yield acc, store
    await acc.close()
    await store.close()


async def records(store: Store) -> list[UsageRow]:
    async with store.session() as session:
        return list((await session.scalars(select(UsageRow))).all())


async def test_settle_records_usage_with_cost_and_frees_the_estimate(
    accounting: tuple[Accounting, Store],
) -> None:
    acc, store = accounting
    ticket = await acc.admit(ALICE, "gpt", CHAT)
    assert ticket.prompt_tokens > 3
    assert int(ticket.headers["x-ratelimit-remaining-tokens"]) == 1000 - ticket.prompt_tokens - 100
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "prompt_tokens_details": {"cached_tokens": 400},
    }
    record = await acc.settle(ticket, status=200, usage=usage, deployment="gpt-eu", ttft_ms=12.0)
    assert record.cost == pytest.approx((600 * 2 + 400 * 1 + 500 * 8) / 1e6)
    assert (record.tenant, record.key_id, record.deployment) == ("acme", 7, "gpt-eu")
    await acc.ledger.flush()  # type: ignore[union-attr]
    [row] = await records(store)
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (1000, 500, 400)
    assert row.latency_ms is not None and row.ttft_ms == 12.0


async def test_cache_writes_and_reasoning_are_priced_apart(
    accounting: tuple[Accounting, Store],
) -> None:
    acc, _ = accounting
    ticket = await acc.admit(ALICE, "claude", {**CHAT, "model": "claude"})
    usage = {
        "prompt_tokens": 4220,
        "completion_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 1200},
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    record = await acc.settle(ticket, status=200, usage=usage)
    micros = 20 * 3.0 + 3000 * 0.3 + 1200 * 3.75 + 60 * 15.0 + 40 * 20.0
    assert round(record.cost * 1e6) == micros == 7160


async def test_failed_call_is_refunded_and_still_recorded(
    accounting: tuple[Accounting, Store],
) -> None:
    acc, store = accounting
    body = {**CHAT, "max_tokens": 900}
    ticket = await acc.admit(ALICE, "gpt", body)
    with pytest.raises(RateLimited):
        await acc.admit(ALICE, "gpt", body)
    await acc.settle(ticket, status=502, error_type="upstream_error")
    await acc.admit(ALICE, "gpt", body)  # the failed call's reservation was given back
    await acc.ledger.flush()  # type: ignore[union-attr]
    rows = sorted((r.status, r.error_type, r.cost) for r in await records(store))
    assert rows == [(429, "rate_limit_exceeded", 0.0), (502, "upstream_error", 0.0)]


async def test_stored_budget_blocks_after_spend_with_a_clear_message(
    accounting: tuple[Accounting, Store],
) -> None:
    acc, _ = accounting
    await acc.policies.set("acme", LimitRule(monthly_budget=0.01))
    ticket = await acc.admit(BOB, "gpt", CHAT)
    await acc.settle(ticket, status=200, usage={"prompt_tokens": 5000, "completion_tokens": 0})
    with pytest.raises(RateLimited) as err:
        await acc.admit(BOB, "gpt", CHAT)
    assert err.value.code == "budget_exceeded"
    assert "Monthly budget exceeded for tenant:acme" in err.value.message


async def test_budget_survives_a_restart_through_the_ledger(
    settings: Settings, accounting: tuple[Accounting, Store]
) -> None:
    acc, store = accounting
    await acc.policies.set("acme", LimitRule(monthly_budget=0.01))
    ticket = await acc.admit(BOB, "gpt", CHAT)
    await acc.settle(ticket, status=200, usage={"prompt_tokens": 5000, "completion_tokens": 0})
    await acc.ledger.flush()  # type: ignore[union-attr]
    fresh = Accounting.from_settings(
        settings.model_copy(
            update={"ledger": settings.ledger.model_copy(update={"enabled": False})}
        ),
        store,
    )
    with pytest.raises(RateLimited):  # a new replica seeds this month's spend from the ledger
        await fresh.admit(BOB, "gpt", CHAT)
    await fresh.close()


async def test_health_reports_limits_and_ledger(accounting: tuple[Accounting, Store]) -> None:
    acc, _ = accounting
    await asyncio.sleep(0)
    assert acc.health() == {
        "limits": {"state": "ok"},
        "ledger": {
            "state": "ok",
            "pending_segments": 0,
            "pending_records_in_memory": 0,
            "buffered": 0,
            "last_error": None,
        },
    }
