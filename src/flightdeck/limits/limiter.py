"""The limiter the request path calls: reserve before a call, settle after it.

    reservation = await limiter.reserve(scopes, Demand(tokens=estimate, cost_micros=est))
    try:
        reply = await call()
    except BaseException:
        await reservation.release()          # refund tokens and cost, free the slot
        raise
    await reservation.reconcile(tokens=used, cost_micros=cost)

With the Redis backend, an unreachable Redis does not fail requests: the limiter logs it, switches
to the configured outage policy (default: in-process limits at ``local_fraction`` of each global
limit), reports it in ``health()``, probes Redis in the background and switches back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flightdeck.core.errors import RateLimited
from flightdeck.core.ids import unique_id
from flightdeck.core.tenancy_settings import LimitsSettings
from flightdeck.limits.backend import LimitsBackend, SpendLoader, no_spend
from flightdeck.limits.memory import MemoryBackend
from flightdeck.limits.redis_backend import RedisBackend, connect
from flightdeck.limits.scopes import MICROS, UNLIMITED, Decision, Demand, Reason, Scope

log = logging.getLogger("flightdeck.limits")

OutagePolicy = Literal["local", "allow", "deny"]
BACKEND_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


@dataclass
class Reservation:
    """What one admitted request holds until it is reconciled or released (idempotent)."""

    limiter: Limiter
    backend: LimitsBackend | None
    scopes: Sequence[Scope]
    id: str
    demand: Demand
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False

    async def reconcile(self, tokens: int, cost_micros: int = 0) -> None:
        """Replace the estimate with what the call really used, and free the slot."""
        await self._settle(Demand(tokens, cost_micros))

    async def release(self) -> None:
        """The call used nothing (it failed before the upstream answered): refund everything."""
        await self._settle(Demand(0, 0))

    async def _settle(self, actual: Demand) -> None:
        if self.settled:
            return
        self.settled = True
        if self.backend is not None:
            await self.limiter.settle(self, actual)


class Limiter:
    """Reserves and settles requests, tokens and spend against every scope's limits at once."""

    def __init__(
        self,
        backend: LimitsBackend,
        *,
        fallback: MemoryBackend | None = None,
        outage_policy: OutagePolicy = "local",
        local_fraction: float = 0.5,
        probe_seconds: float = 1.0,
        currency: str = "USD",
    ) -> None:
        self.backend = backend
        self.fallback = fallback or MemoryBackend()
        self.outage_policy = outage_policy
        self.local_fraction = local_fraction
        self.probe_seconds = probe_seconds
        self.currency = currency
        self.degraded_since: float | None = None
        self.last_error: str | None = None
        self._probe: asyncio.Task[None] | None = None
        self.on_reject: Callable[[str, str], None] | None = None  # (scope kind, reason)

    @classmethod
    def from_settings(
        cls, settings: LimitsSettings, spend_loader: SpendLoader = no_spend
    ) -> Limiter:
        local = MemoryBackend(spend_loader=spend_loader, lease_seconds=settings.lease_seconds)
        backend: LimitsBackend = local
        if settings.backend == "redis":
            backend = RedisBackend(
                connect(settings.redis_url, settings.redis_timeout_seconds),
                prefix=settings.key_prefix,
                spend_loader=spend_loader,
                lease_seconds=settings.lease_seconds,
            )
        return cls(
            backend,
            fallback=local,
            outage_policy=settings.outage_policy,
            local_fraction=settings.local_fraction,
            probe_seconds=settings.probe_seconds,
            currency=settings.currency,
        )

    async def reserve(self, scopes: Sequence[Scope], demand: Demand) -> Reservation:
        """Reserve ``demand`` in every scope at once, or raise RateLimited naming the limit."""
        rid = unique_id()
        if not any(s.limited for s in scopes):
            return Reservation(self, None, scopes, rid, demand, settled=True)
        backend: LimitsBackend | None = self.backend
        effective = scopes
        if self.degraded_since is None:
            try:
                decision = await self.backend.acquire(scopes, rid, demand)
            except MaxConnectionsError:  # this replica is overloaded, Redis is fine
                raise RateLimited(
                    "The gateway is too busy; try again shortly.", retry_after=1.0, code="busy"
                ) from None
            except BACKEND_DOWN as exc:
                self._degrade(exc)
                backend, effective, decision = await self._acquire_degraded(scopes, rid, demand)
        else:
            backend, effective, decision = await self._acquire_degraded(scopes, rid, demand)
        if not decision.admitted:
            raise self.rejection(decision)
        return Reservation(self, backend, effective, rid, demand, headers=rate_headers(decision))

    async def _acquire_degraded(
        self, scopes: Sequence[Scope], rid: str, demand: Demand
    ) -> tuple[LimitsBackend | None, Sequence[Scope], Decision]:
        if self.outage_policy == "allow":
            return None, scopes, Decision(True)
        if self.outage_policy == "deny":
            retry = self.probe_seconds
            return None, scopes, Decision(False, None, None, retry)
        local = [s.scaled(self.local_fraction) for s in scopes]
        return self.fallback, local, await self.fallback.acquire(local, rid, demand)

    async def settle(self, reservation: Reservation, actual: Demand) -> None:
        backend = reservation.backend
        assert backend is not None
        try:
            await backend.settle(reservation.scopes, reservation.id, reservation.demand, actual)
        except BACKEND_DOWN as exc:  # the entries expire on their own; never fail the request
            self._degrade(exc)

    def rejection(self, decision: Decision) -> RateLimited:
        reason, scope = decision.reason, decision.scope
        if self.on_reject is not None:  # telemetry: by scope kind (key, user, tenant), bounded
            kind = scope.split(":", 1)[0] if scope else "unavailable"
            self.on_reject(kind, reason.value if reason is not None else "unavailable")
        if reason is None:
            return RateLimited(
                "Rate limiting is temporarily unavailable; try again shortly.",
                retry_after=decision.retry_after,
                code="limits_unavailable",
            )
        headers: dict[str, str] = {}
        if reason is Reason.REQUESTS:
            message = f"Rate limit reached for {scope}: {decision.limit} requests per minute."
            headers = {
                "x-ratelimit-limit-requests": str(decision.limit),
                "x-ratelimit-remaining-requests": "0",
            }
        elif reason is Reason.TOKENS:
            message = f"Rate limit reached for {scope}: {decision.limit} tokens per minute."
            headers = {
                "x-ratelimit-limit-tokens": str(decision.limit),
                "x-ratelimit-remaining-tokens": "0",
            }
        elif reason is Reason.TOO_LARGE:
            message = (
                f"Request too large for {scope}: it needs more tokens than the limit of "
                f"{decision.limit} tokens per minute. Reduce the prompt or max_tokens."
            )
        elif reason is Reason.CONCURRENCY:
            message = f"Too many concurrent requests for {scope} (limit {decision.limit})."
        else:
            budget = decision.limit / MICROS
            message = (
                f"Monthly budget exceeded for {scope}: the budget is {budget:.2f} "
                f"{self.currency}. Ask an admin to raise it, or wait for the next month."
            )
        if decision.retry_after is not None:
            headers["x-ratelimit-reset"] = f"{decision.retry_after:.3f}s"
        code = "budget_exceeded" if reason is Reason.BUDGET else None
        return RateLimited(message, retry_after=decision.retry_after, headers=headers, code=code)

    def _degrade(self, exc: BaseException) -> None:
        self.last_error = type(exc).__name__
        if self.degraded_since is not None:
            return
        self.degraded_since = time.time()
        log.warning(
            "limits backend unreachable (%s); applying outage policy %r",
            self.last_error,
            self.outage_policy,
        )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_back())

    async def _probe_until_back(self) -> None:
        ping = getattr(self.backend, "ping", None)
        while self.degraded_since is not None:
            await asyncio.sleep(self.probe_seconds)
            try:
                if ping is not None:
                    await ping()
            except BACKEND_DOWN:
                continue
            down_for = time.time() - self.degraded_since
            self.degraded_since = None
            log.warning("limits backend reachable again after %.1f s", down_for)

    def health(self) -> dict[str, object]:
        """For /readyz: still serving either way, but says when limits are only local."""
        if self.degraded_since is None:
            return {"state": "ok"}
        return {
            "state": "degraded",
            "policy": self.outage_policy,
            "since": self.degraded_since,
            "error": self.last_error,
        }

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.backend.close()
        if self.fallback is not self.backend:
            await self.fallback.close()


def rate_headers(decision: Decision) -> dict[str, str]:
    """OpenAI-style ``x-ratelimit-*`` headers from the tightest scope."""
    headers: dict[str, str] = {}
    limited_req = [r for r in decision.remaining if r.limit_requests != UNLIMITED]
    if limited_req:
        tight = min(limited_req, key=lambda r: r.remaining_requests)
        headers["x-ratelimit-limit-requests"] = str(tight.limit_requests)
        headers["x-ratelimit-remaining-requests"] = str(max(tight.remaining_requests, 0))
    limited_tok = [r for r in decision.remaining if r.limit_tokens != UNLIMITED]
    if limited_tok:
        tight = min(limited_tok, key=lambda r: r.remaining_tokens)
        headers["x-ratelimit-limit-tokens"] = str(tight.limit_tokens)
        headers["x-ratelimit-remaining-tokens"] = str(max(tight.remaining_tokens, 0))
    return headers
