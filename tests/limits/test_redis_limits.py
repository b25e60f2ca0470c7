"""Redis limits against the real local Redis: atomic reservations across clients and processes,
reconcile, budgets, and the outage policy (Redis behind a proxy the test cuts)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flightdeck.core.errors import RateLimited
from flightdeck.limits.limiter import Limiter
from flightdeck.limits.memory import MemoryBackend
from flightdeck.limits.redis_backend import RedisBackend, connect
from flightdeck.limits.scopes import MICROS, Demand, Scope
from tests.tenancy_support.services import REDIS_URL
from tests.tenancy_support.tcp_proxy import TcpProxy


def redis_limiter(prefix: str, url: str = REDIS_URL, **kw: object) -> Limiter:
    backend = RedisBackend(connect(url, 5.0), prefix=prefix, **kw)  # type: ignore[arg-type]
    return Limiter(backend, probe_seconds=0.1)


async def test_many_concurrent_clients_never_overshoot_the_token_limit(redis_prefix: str) -> None:
    limiters = [redis_limiter(redis_prefix) for _ in range(4)]  # four replicas' connections
    scope = [Scope("tenant:a", tokens_per_minute=20_000)]
    admitted: list[int] = []

    async def one(i: int) -> None:
        n = 100 + (i * 53) % 400
        try:
            await limiters[i % 4].reserve(scope, Demand(n))
            admitted.append(n)
        except RateLimited:
            pass

    await asyncio.gather(*(one(i) for i in range(400)))
    for lim in limiters:
        await lim.close()
    assert 19_000 < sum(admitted) <= 20_000


async def test_two_processes_sharing_redis_stay_within_limit_plus_one_reservation(
    redis_prefix: str,
) -> None:
    worker = Path(__file__).with_name("burst_worker.py")
    args = [str(worker), REDIS_URL, redis_prefix, "12000", "200"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for p in procs:  # both connected: start their bursts at the same moment
        assert p.stdout is not None
        assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
    outs = await asyncio.gather(*(asyncio.wait_for(p.communicate(b"go\n"), 60) for p in procs))
    totals = [int(out.decode().strip()) for out, _ in outs]
    assert all(p.returncode == 0 for p in procs)
    assert all(t > 0 for t in totals), totals  # both really took part
    assert sum(totals) <= 12_000 + 249  # the largest single reservation is 249 tokens
    assert sum(totals) > 11_500


async def test_reconcile_returns_unused_tokens_across_clients(redis_prefix: str) -> None:
    a, b = redis_limiter(redis_prefix), redis_limiter(redis_prefix)
    scope = [Scope("key:7", tokens_per_minute=1000, concurrent_requests=1)]
    r = await a.reserve(scope, Demand(900))
    with pytest.raises(RateLimited) as err:
        await b.reserve(scope, Demand(200))
    assert err.value.headers["x-ratelimit-limit-tokens"] == "1000"
    assert 0 < (err.value.retry_after or 0) <= 60
    await r.reconcile(tokens=300)
    r2 = await b.reserve(scope, Demand(700))
    assert r2.headers["x-ratelimit-remaining-tokens"] == "0"
    await a.close()
    await b.close()


async def test_requests_per_minute_and_concurrency(redis_prefix: str) -> None:
    lim = redis_limiter(redis_prefix)
    scope = [Scope("key:1", requests_per_minute=3, concurrent_requests=2)]
    r1 = await lim.reserve(scope, Demand(1))
    await lim.reserve(scope, Demand(1))
    with pytest.raises(RateLimited) as err:
        await lim.reserve(scope, Demand(1))
    assert "concurrent" in err.value.message
    await r1.release()
    await lim.reserve(scope, Demand(1))
    with pytest.raises(RateLimited) as err:
        await lim.reserve(scope, Demand(1))
    assert "3 requests per minute" in err.value.message
    await lim.close()


async def test_month_budget_is_seeded_once_and_shared(redis_prefix: str) -> None:
    calls: list[str] = []

    async def spent(scope: Scope, month: str) -> int:
        calls.append(scope.name)
        return 4 * MICROS

    a = redis_limiter(redis_prefix, spend_loader=spent)
    b = redis_limiter(redis_prefix, spend_loader=spent)
    scope = [Scope("tenant:b", monthly_budget_micros=5 * MICROS)]
    r = await a.reserve(scope, Demand(10, cost_micros=MICROS // 2))
    await r.reconcile(tokens=10, cost_micros=MICROS)
    with pytest.raises(RateLimited) as err:
        await b.reserve(scope, Demand(10, cost_micros=1))
    assert err.value.code == "budget_exceeded"
    assert calls == ["tenant:b"]
    await a.close()
    await b.close()


async def test_redis_outage_falls_back_to_local_fraction_then_recovers(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TcpProxy("127.0.0.1", 6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        lim = Limiter(
            RedisBackend(connect(url, 0.5), prefix=redis_prefix),
            fallback=MemoryBackend(),
            local_fraction=0.5,
            probe_seconds=0.1,
        )
        scope = [Scope("tenant:c", requests_per_minute=4)]
        await lim.reserve(scope, Demand(1))
        assert lim.health() == {"state": "ok"}

        proxy.cut()
        await lim.reserve(scope, Demand(1))  # served locally, no error
        await lim.reserve(scope, Demand(1))
        with pytest.raises(RateLimited):  # local limit is half of 4
            await lim.reserve(scope, Demand(1))
        health = lim.health()
        assert health["state"] == "degraded" and health["policy"] == "local"
        assert "limits backend unreachable" in caplog.text

        proxy.restore()
        for _ in range(50):
            if lim.health()["state"] == "ok":
                break
            await asyncio.sleep(0.1)
        assert lim.health() == {"state": "ok"}
        await lim.reserve(scope, Demand(1))  # global again: 2 of 4 used in Redis
        await lim.close()
    client = Redis.from_url(REDIS_URL)
    assert await client.zcard(f"{redis_prefix}tenant:c:log") == 2
    await client.aclose()


async def test_deny_policy_answers_429_while_redis_is_down(redis_prefix: str) -> None:
    with TcpProxy("127.0.0.1", 6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        lim = Limiter(
            RedisBackend(connect(url, 0.5), prefix=redis_prefix),
            outage_policy="deny",
            probe_seconds=0.1,
        )
        proxy.cut()
        with pytest.raises(RateLimited) as err:
            await lim.reserve([Scope("tenant:d", requests_per_minute=10)], Demand(1))
        assert err.value.code == "limits_unavailable"
        await lim.close()


async def test_unreadable_spend_is_not_seeded_as_zero(redis_prefix: str) -> None:
    async def broken(scope: Scope, month: str) -> int:
        raise ConnectionRefusedError("ledger database down")

    lim = redis_limiter(redis_prefix, spend_loader=broken)
    scope = [Scope("tenant:e", monthly_budget_micros=MICROS)]
    r = await lim.reserve(scope, Demand(1, cost_micros=10))
    await r.reconcile(tokens=1, cost_micros=10)
    client = Redis.from_url(REDIS_URL)
    assert [k async for k in client.scan_iter(match=f"{redis_prefix}tenant:e:spend:*")] == []
    await client.aclose()
    await lim.close()


async def test_concurrent_operations_share_round_trips(redis_prefix: str) -> None:
    backend = RedisBackend(connect(REDIS_URL, 5.0), prefix=redis_prefix)
    calls = 0
    real_eval = backend._eval

    async def counting_eval(keys: list[str], args: list[int | str]) -> object:
        nonlocal calls
        calls += 1
        return await real_eval(keys, args)

    backend._eval = counting_eval  # type: ignore[method-assign]
    lim = Limiter(backend)
    scope = [Scope("tenant:f", requests_per_minute=150)]
    outcomes = await asyncio.gather(
        *(lim.reserve(scope, Demand(1)) for _ in range(200)), return_exceptions=True
    )
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(admitted) == 150  # still exact
    assert all(isinstance(o, RateLimited) for o in outcomes if isinstance(o, BaseException))
    assert calls < 20  # 200 reservations, a handful of round trips
    await lim.close()
