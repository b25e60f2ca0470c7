"""The contract every limits backend keeps (in-process and Redis)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from flightdeck.limits.scopes import Decision, Demand, Scope

# Loads what a scope already spent in a month (``YYYYMM``), in micros, e.g. from the ledger.
SpendLoader = Callable[[Scope, str], Awaitable[int]]

WINDOW_SECONDS = 60.0
log = logging.getLogger("flightdeck.limits")


class LimitsBackend(Protocol):
    """Where counters live: in this process (``MemoryBackend``) or in Redis (``RedisBackend``)."""

    async def acquire(
        self, scopes: Sequence[Scope], reservation_id: str, demand: Demand
    ) -> Decision:
        """Check every scope and, only if all admit, reserve the demand in each (atomically)."""

    async def settle(
        self, scopes: Sequence[Scope], reservation_id: str, reserved: Demand, actual: Demand
    ) -> None:
        """Replace the reserved tokens/cost with the actual ones and free the concurrency slot."""

    async def close(self) -> None: ...


@functools.lru_cache(maxsize=4)
def _month_of_hour(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y%m")


def month_of(timestamp: float) -> str:
    """The budget period (UTC calendar month) a time falls in, as ``YYYYMM``."""
    return _month_of_hour(int(timestamp // 3600))  # months start on the hour; called per request


def seconds_to_month_end(timestamp: float) -> float:
    now = datetime.fromtimestamp(timestamp, UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return (datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()


async def no_spend(scope: Scope, month: str) -> int:
    """The spend loader of a limiter without a ledger: nothing was spent before."""
    return 0


async def load_spend(loader: SpendLoader, scope: Scope, month: str) -> int | None:
    """The month spend, or None when it cannot be read now (the ledger's database is down):
    the budget is then not enforced for this request rather than failing it."""
    try:
        return await loader(scope, month)
    except Exception as exc:  # any failure of the loader must not fail the request
        log.warning(
            "month spend of %s unavailable (%s); budget not checked", scope.name, type(exc).__name__
        )
        return None
