"""Rate limits, token reservations and monthly budgets (in-process and Redis backends)."""

from flightdeck.limits.estimate import estimate_chat_tokens, estimate_embedding_tokens
from flightdeck.limits.limiter import Limiter, Reservation
from flightdeck.limits.policy import PolicyStore
from flightdeck.limits.prices import PriceTable
from flightdeck.limits.scopes import Decision, Demand, Scope

__all__ = [
    "Decision",
    "Demand",
    "Limiter",
    "PolicyStore",
    "PriceTable",
    "Reservation",
    "Scope",
    "estimate_chat_tokens",
    "estimate_embedding_tokens",
]
