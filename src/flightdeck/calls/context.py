"""What travels down one model call: who asks, for which group, and the hooks above it.

A route (gateway, assistant, a later inbound wire format) builds one ``CallContext`` per model
call and hands it to ``ModelCalls``. It is the one place later layers hook in:

- an experiment rewrites ``model_group`` before the call is routed;
- telemetry names the request's trace (``trace_id``, recorded in the usage ledger) and gets one
  ``Attempt`` per upstream attempt through ``on_attempt`` (a span each);
- the route says how to notice a client that left (``client_gone``), so the call is cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
