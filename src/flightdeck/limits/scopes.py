"""What a limit applies to (a scope), what a request asks for (a demand), and the verdict.

A scope's owner is a typed value (``TenantScope``, ``KeyScope``, ``UserScope``); its ``name``
(``tenant:acme``, ``key:12``, ``user:acme/alice``) is only the key the backends store counters
under and the word error messages use. Nothing parses a name back: the month spend of a scope
is looked up from its owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

UNLIMITED = -1
MICROS = 1_000_000  # budgets and costs are counted in millionths of the currency unit


class Reason(StrEnum):
    """Which limit refused a demand."""

    REQUESTS = "requests"
    TOKENS = "tokens"
    CONCURRENCY = "concurrency"
    BUDGET = "budget"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class TenantScope:
    """Every caller of one tenant, together."""

    tenant: str

    @property
    def name(self) -> str:
        return f"tenant:{self.tenant}"


@dataclass(frozen=True, slots=True)
class KeyScope:
    """One API key (key ids are unique across tenants)."""

    key_id: int

    @property
    def name(self) -> str:
        return f"key:{self.key_id}"


@dataclass(frozen=True, slots=True)
class UserScope:
    """One OAuth user of a tenant (a caller with a token and no API key)."""

    tenant: str
    user: str

    @property
    def name(self) -> str:
        return f"user:{self.tenant}/{self.user}"


ScopeOwner: TypeAlias = TenantScope | KeyScope | UserScope


@dataclass(frozen=True, slots=True)
class Scope:
    """One limited thing and its limits; -1 means unlimited.

    ``name`` identifies the scope in the backends; ``owner`` says whose it is (None for a
    scope that belongs to nobody, such as a test's or a benchmark's).
    """

    name: str
    requests_per_minute: int = UNLIMITED
    tokens_per_minute: int = UNLIMITED
    concurrent_requests: int = UNLIMITED
    monthly_budget_micros: int = UNLIMITED
    owner: ScopeOwner | None = field(default=None, compare=False)
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
            self.owner,
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
