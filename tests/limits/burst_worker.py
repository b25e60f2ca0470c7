"""One 'gateway replica' for the two-process test: reserves concurrently, prints admitted tokens.

Usage: python burst_worker.py REDIS_URL PREFIX TOKENS_PER_MINUTE REQUESTS START_AT
"""

from __future__ import annotations

import asyncio
import sys
import time

from flightdeck.core.errors import RateLimited
from flightdeck.limits.limiter import Limiter
from flightdeck.limits.redis_backend import RedisBackend, connect
from flightdeck.limits.scopes import Demand, Scope


async def main(url: str, prefix: str, limit: int, requests: int, start_at: float) -> None:
    limiter = Limiter(RedisBackend(connect(url, 5.0), prefix=prefix), outage_policy="deny")
    scope = [Scope("tenant:shared", tokens_per_minute=limit)]
    admitted = 0

    async def one(i: int) -> None:
        nonlocal admitted
        try:
            await limiter.reserve(scope, Demand(50 + (i * 37) % 200))
            admitted += 50 + (i * 37) % 200
        except RateLimited:
            pass

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(one(i) for i in range(requests)))
    await limiter.close()
    print(admitted)


if __name__ == "__main__":
    url, prefix, limit, requests, start = sys.argv[1:6]
    asyncio.run(main(url, prefix, int(limit), int(requests), float(start)))
