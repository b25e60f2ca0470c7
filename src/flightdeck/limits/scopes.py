"""What a limit applies to (a scope), what a request asks for (a demand), and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

UNLIMITED = -1
MICROS = 1_000_000  # budgets and costs are counted in millionths of the currency unit


class Reason(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    CONCURRENCY = "concurrency"
    BUDGET = "budget"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class Scope:
    """One limited thing (``tenant:acme``, ``key:12``) and its limits; -1 means unlimited."""

    name: str
    requests_per_minute: int = UNLIMITED
    tokens_per_minute: int = UNLIMITED
    concurrent_requests: int = UNLIMITED
    monthly_budget_micros: int = UNLIMITED
    limited: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limits = (
            self.requests_per_minute,
            self.tokens_per_minute,
            self.concurrent_requests,
            self.monthly_budget_micros,
        )
        object.__setattr__(self, "limited", any(v != UNLIMITED for v in limits))

    def scaled(self, fraction: float) -> Scope:
        """This scope's rate and concurrency limits cut to ``fraction`` (budgets stay whole)."""

        def cut(limit: int) -> int:
            return limit if limit == UNLIMITED else max(1, int(limit * fraction))

        return Scope(
            self.name,
            cut(self.requests_per_minute),
            cut(self.tokens_per_minute),
            cut(self.concurrent_requests),
            self.monthly_budget_micros,
        )


@dataclass(frozen=True, slots=True)
class Demand:
    """What one request reserves: its estimated tokens and estimated cost (micros)."""

    tokens: int
    cost_micros: int = 0


@dataclass(frozen=True, slots=True)
class Remaining:
    """Headroom of one scope after a reservation, for ``x-ratelimit-*`` headers."""

    scope: str
    limit_requests: int
    remaining_requests: int
    limit_tokens: int
    remaining_tokens: int


@dataclass(frozen=True, slots=True)
class Decision:
    """A backend's verdict on a demand across all scopes, taken atomically."""

    admitted: bool
    scope: str | None = None
    reason: Reason | None = None
    retry_after: float | None = None
    limit: int = UNLIMITED
    remaining: list[Remaining] = field(default_factory=list)
