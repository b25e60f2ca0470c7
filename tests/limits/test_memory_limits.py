"""In-process limits: sliding windows, reservations, concurrency, budgets, headers."""

from __future__ import annotations

import asyncio

import pytest

from flightdeck.core.errors import RateLimited
from flightdeck.limits.limiter import Limiter
from flightdeck.limits.memory import MemoryBackend
from flightdeck.limits.scopes import MICROS, Demand, Scope


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: FakeClock | None = None, **kw: object) -> Limiter:
    return Limiter(MemoryBackend(clock=clock or FakeClock(), **kw))  # type: ignore[arg-type]


async def test_requests_per_minute_rejects_the_extra_request_with_retry_after() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    scope = [Scope("key:1", requests_per_minute=2)]
    await lim.reserve(scope, Demand(1))
    clock.now += 10
    await lim.reserve(scope, Demand(1))
    with pytest.raises(RateLimited) as err:
        await lim.reserve(scope, Demand(1))
    assert err.value.retry_after == pytest.approx(50.0)
    assert err.value.headers["x-ratelimit-limit-requests"] == "2"
    assert "2 requests per minute" in err.value.message


async def test_window_slides_so_old_requests_stop_counting() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    scope = [Scope("key:1", requests_per_minute=1)]
    await lim.reserve(scope, Demand(1))
    clock.now += 60.5
    await lim.reserve(scope, Demand(1))


async def test_reconcile_gives_back_unused_tokens() -> None:
    lim = limiter()
    scope = [Scope("tenant:a", tokens_per_minute=1000)]
    r = await lim.reserve(scope, Demand(800))
    with pytest.raises(RateLimited):
        await lim.reserve(scope, Demand(300))
    await r.reconcile(tokens=100)
    await lim.reserve(scope, Demand(900))


async def test_release_refunds_everything_and_is_idempotent() -> None:
    lim = limiter()
    scope = [Scope("tenant:a", tokens_per_minute=1000, concurrent_requests=1)]
    r = await lim.reserve(scope, Demand(1000))
    await r.release()
    await r.release()
    r2 = await lim.reserve(scope, Demand(1000))
    await r2.reconcile(tokens=10)


async def test_request_larger_than_the_limit_says_so_without_retry_after() -> None:
    lim = limiter()
    with pytest.raises(RateLimited) as err:
        await lim.reserve([Scope("key:1", tokens_per_minute=100)], Demand(101))
    assert err.value.retry_after is None
    assert "Reduce the prompt or max_tokens" in err.value.message


async def test_concurrency_slot_is_freed_on_reconcile() -> None:
    lim = limiter()
    scope = [Scope("key:1", concurrent_requests=1)]
    r = await lim.reserve(scope, Demand(5))
    with pytest.raises(RateLimited) as err:
        await lim.reserve(scope, Demand(5))
    assert "concurrent" in err.value.message
    await r.reconcile(tokens=5)
    await lim.reserve(scope, Demand(5))


async def test_a_rejection_in_one_scope_reserves_nothing_in_the_others() -> None:
    lim = limiter()
    key = Scope("key:1", tokens_per_minute=1000)
    tenant = Scope("tenant:a", tokens_per_minute=100)
    with pytest.raises(RateLimited) as err:
        await lim.reserve([key, tenant], Demand(200))
    assert "tenant:a" in err.value.message
    await lim.reserve([key], Demand(1000))  # the key's window is untouched


async def test_budget_is_seeded_from_the_ledger_and_blocks_when_spent() -> None:
    seen: list[tuple[str, str]] = []

    async def spent(scope: Scope, month: str) -> int:
        seen.append((scope.name, month))
        return 9 * MICROS

    lim = Limiter(MemoryBackend(spend_loader=spent, clock=FakeClock()))
    scope = [Scope("tenant:a", monthly_budget_micros=10 * MICROS)]
    r = await lim.reserve(scope, Demand(10, cost_micros=MICROS // 2))
    await r.reconcile(tokens=10, cost_micros=MICROS)  # spent: exactly 10.00
    with pytest.raises(RateLimited) as err:
        await lim.reserve(scope, Demand(10, cost_micros=1))
    assert err.value.code == "budget_exceeded"
    assert "Monthly budget exceeded" in err.value.message
    assert seen == [("tenant:a", "202311")]


async def test_success_carries_ratelimit_headers_of_the_tightest_scope() -> None:
    lim = limiter()
    r = await lim.reserve(
        [
            Scope("key:1", requests_per_minute=10, tokens_per_minute=500),
            Scope("tenant:a", requests_per_minute=5, tokens_per_minute=5000),
        ],
        Demand(100),
    )
    assert r.headers == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-limit-tokens": "500",
        "x-ratelimit-remaining-tokens": "400",
    }


async def test_concurrent_burst_never_exceeds_the_token_limit() -> None:
    lim = limiter()
    scope = [Scope("tenant:a", tokens_per_minute=10_000)]
    admitted: list[int] = []

    async def one(n: int) -> None:
        try:
            await lim.reserve(scope, Demand(n))
            admitted.append(n)
        except RateLimited:
            pass

    await asyncio.gather(*(one(100 + i % 250) for i in range(300)))
    assert 9_000 < sum(admitted) <= 10_000


async def test_budget_is_not_enforced_while_the_spend_cannot_be_read() -> None:
    calls = 0

    async def broken(scope: Scope, month: str) -> int:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("ledger database down")

    lim = Limiter(MemoryBackend(spend_loader=broken, clock=FakeClock()))
    scope = [Scope("tenant:a", monthly_budget_micros=1)]
    await lim.reserve(scope, Demand(1, cost_micros=5))  # admitted, not a 500
    await lim.reserve(scope, Demand(1, cost_micros=5))
    assert calls == 2  # tried again each time, never cached as zero
