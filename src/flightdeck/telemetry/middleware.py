"""The telemetry ASGI middleware: per HTTP request one SERVER span (continuing a valid incoming
``traceparent``), the request duration metric and one JSON log line.

The request's times are read as it ends; the rest (the span's closing attributes and ``end``,
the metric, the line) is queued on the telemetry's ``Batch`` and runs with other requests'.

A thin ASGI wrapper rather than ``opentelemetry-instrumentation-asgi``: that one also spans
every ``send``/``receive`` message (two or more extra spans per request, each streamed chunk
one), which the gateway's hot path should not pay for.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flightdeck.telemetry import logs
from flightdeck.telemetry import semconv as sc
from flightdeck.telemetry.requests import CURRENT, RequestInfo
from flightdeck.telemetry.spans import attach_span
from flightdeck.telemetry.tracing import incoming_context

if TYPE_CHECKING:
    from flightdeck.telemetry.service import Telemetry


def _parent(headers: list[tuple[bytes, bytes]]) -> otel_context.Context | None:
    """The remote parent of a request with a valid ``traceparent`` (``incoming_context``)."""
    for name, _ in headers:
        if name == b"traceparent":  # few requests carry one: no dict of headers for the rest
            return incoming_context(
                {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in headers
                    if k in (b"traceparent", b"tracestate")
                }
            )
    return None


class TelemetryMiddleware:
    """Wraps the app built by ``create_app`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, route_of: Callable[[Any], str]):
        self.app = app
        self.telemetry = telemetry
        self.route_of = route_of
        self.tracer = telemetry.tracer
        self.metrics = telemetry.metrics
        self.log = telemetry.settings.logs
        self.batch = telemetry.batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = RequestInfo()
        token = CURRENT.set(info)
        status = 500
        span = None
        if self.tracer is not None:
            span = self.tracer.start_span(
                f"{scope['method']} {scope['path']}",  # renamed to the route once matched
                context=_parent(scope["headers"]),
                kind=sc.SERVER_SPAN.kind,
                attributes={
                    sc.HTTP_METHOD: scope["method"],
                    sc.URL_PATH: scope["path"],
                    sc.URL_SCHEME: scope.get("scheme", "http"),
                },
            )
            info.trace_id = f"{span.get_span_context().trace_id:032x}"

        def send_status(message: Message) -> Awaitable[None]:
            # Not a coroutine of its own: the caller awaits the one ``send`` returns.
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        error: BaseException | None = None
        try:
            if span is None:
                await self.app(scope, receive, send_status)
            else:  # attach/detach: use_span's exception bookkeeping is not needed here
                current = attach_span(span)
                try:
                    await self.app(scope, receive, send_status)
                finally:
                    otel_context.detach(current)
        except BaseException as exc:
            error = exc
            raise
        finally:
            CURRENT.reset(token)
            elapsed = time.perf_counter() - started
            error_type = None if error is None else type(error).__qualname__
            ended = time.time_ns()
            self.batch.add(self._finish, scope, info, span, status, error_type, elapsed, ended)

    def _finish(
        self,
        scope: Scope,
        info: RequestInfo,
        span: Any,
        status: int,
        error_type: str | None,
        elapsed: float,
        ended: int,
    ) -> None:
        """The queued end of a request (``elapsed`` seconds; ``ended``: epoch ns)."""
        route = self.route_of(scope)
        tenant = info.tenant
        principal = scope.get("state", {}).get("principal")
        if tenant is None and principal is not None:
            tenant = getattr(principal, "tenant", None)
        if self.metrics is not None:
            self.metrics.http_duration.labels(scope["method"], route, str(status)).observe(elapsed)
        if span is not None:
            if span.is_recording():
                span.update_name(f"{scope['method']} {route}")
                attrs: dict[str, Any] = {sc.HTTP_ROUTE: route, sc.HTTP_STATUS: status}
                if tenant is not None and self.telemetry.settings.tenant_label:
                    attrs[sc.TENANT] = tenant
                if status >= 500 or error_type is not None:
                    attrs[sc.ERROR_TYPE] = error_type or str(status)
                    span.set_status(Status(StatusCode.ERROR))
                span.set_attributes(attrs)
            span.end(ended)
        if self.log:
            logs.emit(
                {
                    "time": ended // 1_000_000,  # ms; formatted by emit, first in the line
                    "trace_id": info.trace_id,
                    "tenant": tenant,
                    "method": scope["method"],
                    "route": route,
                    "model": info.model,
                    "status": status,
                    "duration_ms": int(elapsed * 1_000_000) / 1000,  # round() costs more
                    "input_tokens": info.input_tokens,
                    "output_tokens": info.output_tokens,
                    "cache": info.cache,
                }
            )
