"""Tracing: an app-owned tracer (``telemetry/spans.py``) and W3C trace context in and out.

The tracer is never installed as the global one: several apps (tests, workers) can live in
one process, each with its own exporter. Spans become current through OpenTelemetry's context
(a contextvar), which is all the upstream side reads: ``outgoing_headers`` turns the current
span into ``traceparent``/``tracestate`` lines for an upstream request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import DEFAULT_TRACE_STATE, SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flightdeck.core.telemetry_settings import TelemetrySettings
from flightdeck.telemetry.spans import LeanSpan, LeanTracer, current_span

PROPAGATOR = TraceContextTextMapPropagator()
INSTRUMENTATION = "flightdeck"


def make_tracer(
    settings: TelemetrySettings, processors: list[SpanProcessor] | None = None
) -> LeanTracer:
    """A tracer sampling ``sample_ratio`` of new traces (an incoming sampled flag wins,
    ``ParentBased``), exporting OTLP/HTTP protobuf to ``otlp_endpoint`` through the SDK's
    ``BatchSpanProcessor`` (``LeanBatchSpanProcessor``; its ``OTEL_BSP_*`` settings), and handing
    spans to ``processors``."""
    chain: list[SpanProcessor] = []
    if settings.otlp_endpoint:
        chain.append(LeanBatchSpanProcessor(otlp_exporter(settings)))
    chain.extend(processors or [])
    return LeanTracer(
        Resource.create({"service.name": settings.service_name}),
        InstrumentationScope(INSTRUMENTATION),
        settings.sample_ratio,
        chain,
    )


class LeanBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's ``BatchSpanProcessor`` (queue, batches, schedule, flush, shutdown, its
    ``OTEL_BSP_*`` settings) that queues a ``LeanSpan`` without asking it whether it is
    sampled: ``LeanTracer`` records sampled spans only (the SDK's check reads five properties
    per span). Any other span goes through the SDK's ``on_end``."""

    def __init__(self, exporter: SpanExporter, **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._emit = self._batch_processor.emit

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the ended span for export (the SDK's ``on_end``, its sampled check skipped
        for a ``LeanSpan``)."""
        if type(span) is LeanSpan:
            self._emit(span)
        else:
            super().on_end(span)


def otlp_exporter(settings: TelemetrySettings) -> SpanExporter:
    """OTLP over HTTP with protobuf bodies, to ``<otlp_endpoint>/v1/traces``: the library's
    exporter with Flightdeck's direct protobuf encoder (``telemetry/otlp.py``)."""
    # Imported here: the exporter pulls in requests, needed only when export is configured.
    from flightdeck.telemetry.otlp import DirectOTLPSpanExporter

    assert settings.otlp_endpoint is not None
    endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    return DirectOTLPSpanExporter(endpoint=endpoint, headers=dict(settings.otlp_headers))


def incoming_context(headers: Mapping[str, str]) -> Context | None:
    """The remote parent named by a valid ``traceparent`` (with its ``tracestate``); None for a
    missing or malformed one (all-zero ids, uppercase hex, version ff, wrong lengths), which
    starts a new trace."""
    if "traceparent" not in headers:
        return None
    ctx = PROPAGATOR.extract(headers)
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    return ctx


def outgoing_headers() -> bytes:
    """``traceparent`` (and ``tracestate``) header lines for the current span; b"" if none."""
    span_ctx = current_span().get_span_context()
    if type(span_ctx) is SpanContext:  # a tuple: its fields without a property call each
        trace_id, span_id, _, flags, state, valid = span_ctx
    else:
        trace_id, span_id, flags = span_ctx.trace_id, span_ctx.span_id, span_ctx.trace_flags
        state, valid = span_ctx.trace_state, span_ctx.is_valid
    if not valid:
        return b""
    line = b"traceparent: 00-%032x-%016x-%s\r\n" % (
        trace_id,
        span_id,
        b"01" if flags & 1 else b"00",
    )
    if state is not DEFAULT_TRACE_STATE and state:
        line += f"tracestate: {state.to_header()}\r\n".encode("latin-1")
    return line
