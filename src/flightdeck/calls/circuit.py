"""A per-deployment circuit breaker: cooled down after repeated failures, then probed once."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    """A deployment's circuit: closed (taking traffic), open (cooling down), half-open (probing)."""

    CLOSED = "closed"  # taking traffic
    OPEN = "open"  # cooling down: no traffic
    HALF_OPEN = "half_open"  # cooldown over: one probe request at a time


class Circuit:
    """Opens after ``failures_to_open`` consecutive failures, for ``cooldown`` seconds.

    When the cooldown is over, exactly one request (the probe) is let through; its success
    closes the circuit, its failure opens it for another cooldown. ``defer`` keeps traffic
    away until a time an upstream asked for (``Retry-After``) without counting as a cooldown.
    """

    __slots__ = (
        "_clock",
        "cooldown",
        "failures",
        "failures_to_open",
        "not_before",
        "open_until",
        "probing",
    )

    def __init__(
        self,
        failures_to_open: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures_to_open
        self.cooldown = cooldown
        self._clock = clock
        self.failures = 0
        self.open_until = 0.0
        self.not_before = 0.0
        self.probing = False

    @property
    def state(self) -> CircuitState:
        if self.failures < self.failures_to_open:
            return CircuitState.CLOSED
        if self._clock() < self.open_until:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def available(self) -> bool:
        """Whether a request may be sent now (a half-open circuit admits one probe)."""
        if self.failures < self.failures_to_open:  # the hot path: closed, no clock read
            return True
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and not self.probing
        )

    def deferred(self) -> bool:
        """Whether the upstream asked us (``Retry-After``) to wait before sending again."""
        return self._clock() < self.not_before

    def wait_left(self) -> float:
        """Seconds until the upstream's ``Retry-After`` window ends (0 when there is none)."""
        return max(0.0, self.not_before - self._clock()) if self.not_before else 0.0

    def on_send(self) -> None:
        if self.failures >= self.failures_to_open and self.state is CircuitState.HALF_OPEN:
            self.probing = True

    def record_success(self) -> None:
        self.failures = 0
        self.probing = False
        self.not_before = 0.0

    def record_failure(self, retry_after: float | None = None) -> None:
        now = self._clock()
        self.failures += 1
        self.probing = False
        if self.failures >= self.failures_to_open:
            self.open_until = now + self.cooldown
        if retry_after:
            self.not_before = max(self.not_before, now + retry_after)

    def release_probe(self) -> None:
        """A probe ended without a verdict (client went away): let another one through."""
        self.probing = False
