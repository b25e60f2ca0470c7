"""One 'gateway replica' for the two-process test: reserves concurrently, prints admitted tokens.

Usage: python burst_worker.py REDIS_URL PREFIX TOKENS_PER_MINUTE REQUESTS
Prints 'ready', waits for a line on stdin, bursts, prints the admitted tokens.
"""

from __future__ import annotations

import asyncio
import sys

from flightdeck.core.errors import RateLimited
from flightdeck.limits.limiter import Limiter
from flightdeck.limits.redis_backend import RedisBackend, connect
from flightdeck.limits.scopes import Demand, Scope


async def main(url: str, prefix: str, limit: int, requests: int) -> None:
    limiter = Limiter(RedisBackend(connect(url, 5.0), prefix=prefix), outage_policy="deny")
    scope = [Scope("tenant:shared", tokens_per_minute=limit)]
    admitted = 0

    async def one(i: int) -> None:
        nonlocal admitted
        await asyncio.sleep(i * 0.002)  # a 0.4 s burst, so the two replicas interleave
        try:
            await limiter.reserve(scope, Demand(50 + (i * 37) % 200))
            admitted += 50 + (i * 37) % 200
        except RateLimited:
            pass

    await limiter.reserve(
        [Scope("warmup", tokens_per_minute=10**9)], Demand(0)
    )  # connect before the burst
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await asyncio.gather(*(one(i) for i in range(requests)))
    await limiter.close()
    print(admitted)


if __name__ == "__main__":
    url, prefix, limit, requests = sys.argv[1:5]
    asyncio.run(main(url, prefix, int(limit), int(requests)))
