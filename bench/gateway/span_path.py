"""Per-request cost of the gateway's two spans on the event loop's thread, in-process: the
OpenTelemetry SDK's ``Tracer`` (1.45) next to Flightdeck's ``LeanTracer``
(``flightdeck.telemetry.spans``), both in front of the SDK's ``BatchSpanProcessor`` (whose
exporter drops the batches: export is measured by ``bench.gateway.otlp_encode``).

One request is what ``TelemetryMiddleware`` and ``AttemptRecorder`` do: a SERVER span made
current, a CLIENT inference span under it made current, the upstream ``traceparent``, the reply's
attributes, both ended with their final attributes. CPU time (``time.process_time``) per
request, min of ``--repeat`` timings of ``--number`` requests.

    python -m bench.gateway.span_path [--repeat 9] [--number 20000]
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Tracer

from bench.gateway.otlp_encode import CLIENT, REPLY, SERVER, SERVER_END
from flightdeck.telemetry.spans import LeanTracer
from flightdeck.telemetry.tracing import outgoing_headers

RESOURCE = Resource.create({"service.name": "flightdeck"})


class _Drop(SpanExporter):
    """Takes batches and drops them."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def sdk_tracer() -> Tracer:
    """The SDK's tracer as Flightdeck configured it before ``LeanTracer``."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    return provider.get_tracer("flightdeck")


def lean_tracer() -> Tracer:
    """``LeanTracer`` as ``telemetry.tracing.make_tracer`` builds it."""
    scope = InstrumentationScope("flightdeck")
    return LeanTracer(RESOURCE, scope, 1.0, [BatchSpanProcessor(_Drop())])


def one_request(tracer: Tracer) -> None:
    """The span calls of one chat completion through the gateway."""
    server = tracer.start_span("POST /v1/chat/completions", kind=SpanKind.SERVER, attributes=SERVER)
    outer = otel_context.attach(trace.set_span_in_context(server))
    client = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=CLIENT)
    inner = otel_context.attach(trace.set_span_in_context(client))
    outgoing_headers()
    client.set_attributes(REPLY)
    otel_context.detach(inner)
    client.end()
    otel_context.detach(outer)
    if server.is_recording():
        server.update_name("POST /v1/chat/completions")
        server.set_attributes(SERVER_END)
    server.end()


def per_request_us(tracer: Tracer, repeat: int, number: int) -> float:
    """Microseconds of CPU per request: min over ``repeat`` runs of ``number`` requests."""
    timer = timeit.Timer(lambda: one_request(tracer), timer=time.process_time)
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    sdk = per_request_us(sdk_tracer(), args.repeat, args.number)
    lean = per_request_us(lean_tracer(), args.repeat, args.number)
    print("| tracer | us per request (two spans) |")
    print("| --- | ---: |")
    print(f"| OpenTelemetry SDK `Tracer` | {sdk:.1f} |")
    print(f"| Flightdeck `LeanTracer` | {lean:.1f} |")
    print(f"\nLeanTracer / SDK: {lean / sdk:.0%} of the SDK's CPU per request")


if __name__ == "__main__":
    main()
