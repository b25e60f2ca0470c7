"""What travels down one model call: who asks, for which group, and the hooks above it.

A route (gateway, assistant, a later inbound wire format) builds one ``CallContext`` per model
call and hands it to ``ModelCalls``. It is the one place later layers hook in:

- an experiment rewrites ``model_group`` before the call is routed;
- telemetry names the request's trace (``trace_id``, recorded in the usage ledger) and gets one
  ``Attempt`` per upstream attempt through ``on_attempt`` (a span each);
- the route says how to notice a client that left (``client_gone``), so the call is cancelled;
- experiments (``ModelCalls(before_call=...)``) assign the request's unit, may rewrite
  ``model_group`` or the body, and list what they served in ``variants``: the ledger records
  them with the usage and the route answers ``x-flightdeck-experiment: <key>=<variant>``;
- the response cache reads the request's ``headers`` (``Cache-Control``,
  ``x-flightdeck-cache``) and sets ``cache_result``: the route answers it as
  ``x-flightdeck-cache``, and it is the value telemetry labels the request with.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flightdeck.auth.keys import Principal
from flightdeck.calls.accounting import Kind, Ticket
from flightdeck.core.cancel import GoneWaiter


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream attempt of a routed call, as the router saw it.

    ``started`` is wall-clock time (``time.time()``, seconds), ``duration_ms`` milliseconds;
    ``error`` is the ``UpstreamError`` that ended it, None when it answered.
    """

    group: str
    deployment: str
    number: int  # 1-based, counted across retries and fallbacks
    started: float
    duration_ms: float
    error: BaseException | None = None


AttemptObserver = Callable[[Attempt], None]
EXPERIMENT_HEADER = "x-flightdeck-experiment"
CACHE_RESULT_HEADER = b"x-flightdeck-cache"


@dataclass(frozen=True, slots=True)
class ServedVariant:
    """The variant of one experiment a call was served with, and the unit it was assigned to."""

    experiment_id: int
    key: str
    variant: str
    unit: str


@dataclass(slots=True)
class CallContext:
    """One model call of one inbound request (built by the route, read by ``ModelCalls``)."""

    principal: Principal
    model_group: str
    kind: Kind = "chat"
    client_gone: GoneWaiter | None = None  # None: the caller watches for a client that left
    trace_id: str | None = None
    on_attempt: AttemptObserver | None = None
    started: float = field(default_factory=time.perf_counter)
    ticket: Ticket | None = None  # set by ModelCalls once the call is admitted
    variants: list[ServedVariant] = field(default_factory=list)  # set by experiments
    units: dict[str, str] = field(default_factory=dict)  # unit ids a route knows (conversation)
    headers: Mapping[str, str] = field(default_factory=dict)  # the request's (lower-case names)
    prepared: bool = False  # set by ModelCalls once experiments ran for this call
    cache_result: str | None = None  # set by ModelCalls for chat: hit | semantic-hit | miss | ...

    def experiment_headers(self) -> list[tuple[bytes, bytes]]:
        """``x-flightdeck-experiment: key=variant[, key=variant]`` (none outside experiments)."""
        if not self.variants:
            return []
        value = ", ".join(f"{v.key}={v.variant}" for v in self.variants)
        return [(EXPERIMENT_HEADER.encode(), value.encode())]

    def cache_headers(self) -> list[tuple[bytes, bytes]]:
        """``x-flightdeck-cache: hit | semantic-hit | miss | bypass | refresh`` (chat calls)."""
        if self.cache_result is None:
            return []
        return [(CACHE_RESULT_HEADER, self.cache_result.encode())]

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """What the route adds to its response for this call: experiments and cache result."""
        return self.experiment_headers() + self.cache_headers()


CallHook = Callable[[CallContext, dict[str, Any]], Awaitable[None]]
