"""What one inbound request did, filled in as it goes and read once at its end (log line,
server span, request metrics). It lives in a contextvar the telemetry middleware sets, so the
layers below note things (``note_cache``, the settled model call) without being handed it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RequestInfo:
    """The facts of one request that its log line carries (never keys, never text)."""

    trace_id: str | None = None  # 32 hex digits, when tracing is on
    tenant: str | None = None
    model: str | None = None
    deployment: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache: str | None = None  # hit, miss, bypass, ... (set by the response cache)
    attempts: int = 0
    # the GenAI metric attributes of the attempt that answered (server, response model, ...)
    attempt_attrs: dict[str, Any] | None = None


CURRENT: ContextVar[RequestInfo | None] = ContextVar("flightdeck_request", default=None)


def current_request() -> RequestInfo | None:
    """The request being served in this context, None outside the telemetry middleware."""
    return CURRENT.get()
