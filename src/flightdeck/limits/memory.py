"""In-process limits: exact sliding one-minute windows, concurrency leases and month spend.

Every method runs without awaiting between check and update, so it is atomic on one event loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flightdeck.limits.backend import (
    WINDOW_SECONDS,
    SpendLoader,
    load_spend,
    month_of,
    no_spend,
    seconds_to_month_end,
)
from flightdeck.limits.scopes import UNLIMITED, Decision, Demand, Reason, Remaining, Scope


@dataclass
class _Window:
    entries: deque[tuple[float, str]] = field(default_factory=deque)
    amounts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    leases: dict[str, float] = field(default_factory=dict)

    def expire(self, now: float, window: float) -> None:
        while self.entries and self.entries[0][0] <= now - window:
            _, rid = self.entries.popleft()
            self.total -= self.amounts.pop(rid, 0)
        for rid in [r for r, until in self.leases.items() if until <= now]:
            del self.leases[rid]

    def tokens_retry_after(self, demand: int, limit: int, now: float, window: float) -> float:
        needed = self.total + demand - limit
        for ts, rid in self.entries:
            needed -= self.amounts.get(rid, 0)
            if needed <= 0:
                return ts + window - now
        return window


class MemoryBackend:
    """Limits kept in this process (one replica): the same semantics as the Redis backend."""

    def __init__(
        self,
        *,
        spend_loader: SpendLoader = no_spend,
        lease_seconds: float = 900.0,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spend_loader = spend_loader
        self.lease_seconds = lease_seconds
        self.window = window_seconds
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._spend: dict[tuple[str, str], int] = {}

    async def acquire(
        self, scopes: Sequence[Scope], reservation_id: str, demand: Demand
    ) -> Decision:
        month = month_of(self.clock())
        for scope in scopes:  # load month spend first: the only await, before any check
            key = (scope.name, month)
            if scope.monthly_budget_micros != UNLIMITED and key not in self._spend:
                loaded = await load_spend(self.spend_loader, scope, month)
                if loaded is not None:
                    self._spend.setdefault(key, loaded)
        now = self.clock()
        remaining: list[Remaining] = []
        for scope in scopes:
            w = self._windows.setdefault(scope.name, _Window())
            w.expire(now, self.window)
            rejected = self._check(scope, w, demand, now, month)
            if rejected is not None:
                return rejected
            remaining.append(
                Remaining(
                    scope.name,
                    scope.requests_per_minute,
                    scope.requests_per_minute - len(w.entries) - 1,
                    scope.tokens_per_minute,
                    scope.tokens_per_minute - w.total - demand.tokens,
                )
            )
        for scope in scopes:
            w = self._windows[scope.name]
            w.entries.append((now, reservation_id))
            w.amounts[reservation_id] = demand.tokens
            w.total += demand.tokens
            if scope.concurrent_requests != UNLIMITED:
                w.leases[reservation_id] = now + self.lease_seconds
            key = (scope.name, month)
            if key in self._spend:
                self._spend[key] += demand.cost_micros
        return Decision(True, remaining=remaining)

    def _check(
        self, scope: Scope, w: _Window, demand: Demand, now: float, month: str
    ) -> Decision | None:
        rpm, tpm = scope.requests_per_minute, scope.tokens_per_minute
        if rpm != UNLIMITED and len(w.entries) + 1 > rpm:
            retry = w.entries[0][0] + self.window - now if w.entries else self.window
            return Decision(False, scope.name, Reason.REQUESTS, max(retry, 0.001), rpm)
        if tpm != UNLIMITED and demand.tokens > tpm:
            return Decision(False, scope.name, Reason.TOO_LARGE, None, tpm)
        if tpm != UNLIMITED and w.total + demand.tokens > tpm:
            retry = w.tokens_retry_after(demand.tokens, tpm, now, self.window)
            return Decision(False, scope.name, Reason.TOKENS, max(retry, 0.001), tpm)
        conc = scope.concurrent_requests
        if conc != UNLIMITED and len(w.leases) >= conc:
            return Decision(False, scope.name, Reason.CONCURRENCY, 1.0, conc)
        budget = scope.monthly_budget_micros
        spent = self._spend.get((scope.name, month))
        if budget != UNLIMITED and spent is not None and spent + demand.cost_micros > budget:
            retry = seconds_to_month_end(now)
            return Decision(False, scope.name, Reason.BUDGET, retry, budget)
        return None

    async def settle(
        self, scopes: Sequence[Scope], reservation_id: str, reserved: Demand, actual: Demand
    ) -> None:
        month = month_of(self.clock())
        for scope in scopes:
            w = self._windows.get(scope.name)
            if w is not None:
                old = w.amounts.get(reservation_id)
                if old is not None:
                    w.amounts[reservation_id] = actual.tokens
                    w.total += actual.tokens - old
                w.leases.pop(reservation_id, None)
            key = (scope.name, month)
            if key in self._spend:
                self._spend[key] += actual.cost_micros - reserved.cost_micros

    async def close(self) -> None:
        self._windows.clear()
