"""Tracing: an app-owned OpenTelemetry ``TracerProvider`` and W3C trace context in and out.

The provider is never installed as the global one: several apps (tests, workers) can live in
one process, each with its own exporter. Spans become current through OpenTelemetry's context
(a contextvar), which is all the upstream side reads: ``outgoing_headers`` turns the current
span into ``traceparent``/``tracestate`` lines for an upstream request.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flightdeck.core.telemetry_settings import TelemetrySettings

PROPAGATOR = TraceContextTextMapPropagator()
INSTRUMENTATION = "flightdeck"


def tracer_provider(
    settings: TelemetrySettings, processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """A provider sampling ``sample_ratio`` of new traces (an incoming sampled flag wins),
    exporting OTLP/HTTP protobuf to ``otlp_endpoint`` in batches, plus ``processors``."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(root_sampler(settings.sample_ratio)),
    )
    if settings.otlp_endpoint:
        provider.add_span_processor(BatchSpanProcessor(otlp_exporter(settings)))
    for processor in processors or []:
        provider.add_span_processor(processor)
    return provider


def root_sampler(ratio: float) -> Sampler:
    """The sampler for new traces: ``ALWAYS_ON``/``ALWAYS_OFF`` at 1 and 0 (the same decisions
    as ``TraceIdRatioBased`` there, without computing a bound per span), else by ratio."""
    if ratio >= 1.0:
        return ALWAYS_ON
    if ratio <= 0.0:
        return ALWAYS_OFF
    return TraceIdRatioBased(ratio)


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
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return b""
    flags = "01" if span_ctx.trace_flags.sampled else "00"
    line = f"traceparent: 00-{span_ctx.trace_id:032x}-{span_ctx.span_id:016x}-{flags}\r\n"
    if span_ctx.trace_state:
        line += f"tracestate: {span_ctx.trace_state.to_header()}\r\n"
    return line.encode("latin-1")
