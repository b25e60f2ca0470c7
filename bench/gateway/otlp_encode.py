"""Per-span cost of OTLP protobuf encoding, in-process: the official encoder
(``encode_spans(spans).SerializePartialToString()``) next to Flightdeck's direct wire-format
encoder (``flightdeck.telemetry.otlp.TraceRequestEncoder``, one kept across batches as the
exporter does) in pure Python and with its C part (``_speedups``, where it is built), on
the gateway's two span shapes as its ``LeanTracer`` records them: a SERVER span (6 attributes,
remote parent) and a CLIENT inference span (15 ``gen_ai.*`` and server attributes, a
finish-reason list).
Batches of 512 spans (``BatchSpanProcessor``'s default export size); CPU time
(``time.process_time``) per span, min of ``--repeat`` timings of ``--number`` batches. Last
row: a whole ``export()`` of the interleaved batch by the library's exporter and by
``DirectOTLPSpanExporter`` to a loopback sink (the exporting thread's CPU, POST included).

    python -m bench.gateway.otlp_encode [--repeat 9] [--number 10]
"""

from __future__ import annotations

import argparse
import threading
import time
import timeit
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from flightdeck.telemetry.otlp import NATIVE, DirectOTLPSpanExporter, TraceRequestEncoder
from flightdeck.telemetry.spans import LeanTracer

BATCH = 512
# The attributes of the gateway's two spans (bench.gateway.span_path makes the same ones).
SERVER = {"http.request.method": "POST", "url.path": "/v1/chat/completions", "url.scheme": "http"}
CLIENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "server.address": "api.openai.com",
    "server.port": 443,
    "flightdeck.model_group": "gpt-4o-mini",
    "flightdeck.deployment": "openai-east",
    "flightdeck.attempt": 1,
    "gen_ai.request.max_tokens": 512,
}
REPLY = {
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-00000000000000000001",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 180,
}
SERVER_END = {"http.route": "/v1/chat/completions", "http.response.status_code": 200}


def gateway_spans(count: int) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """``count`` SERVER spans and ``count`` CLIENT inference spans, as the gateway records them."""
    memory = InMemorySpanExporter()
    tracer = LeanTracer(
        Resource.create({"service.name": "flightdeck"}),
        InstrumentationScope("flightdeck"),
        1.0,
        [SimpleSpanProcessor(memory)],
    )
    for i in range(count):
        remote = SpanContext(0x5BCE1E7A << 64 | i + 1, 0xA1B2C3D4 + i, True, TraceFlags(1))
        parent = trace.set_span_in_context(NonRecordingSpan(remote))
        server = tracer.start_span("POST /v1/chat/completions", parent, SpanKind.SERVER, SERVER)
        client = tracer.start_span(
            "chat gpt-4o-mini", trace.set_span_in_context(server), SpanKind.CLIENT, CLIENT
        )
        client.set_attributes(
            {
                **REPLY,
                "gen_ai.response.id": f"chatcmpl-{i:020d}",
                "gen_ai.usage.input_tokens": 1200 + i,
                "gen_ai.usage.cache_read.input_tokens": 1024,
            }
        )
        client.end()
        server.set_attributes(SERVER_END)
        server.end()
    finished = memory.get_finished_spans()
    return (
        [s for s in finished if s.kind is SpanKind.SERVER],
        [s for s in finished if s.kind is SpanKind.CLIENT],
    )


def per_span_us(
    encode: Callable[[Sequence[ReadableSpan]], bytes],
    spans: Sequence[ReadableSpan],
    repeat: int,
    number: int,
) -> float:
    """Microseconds per span: min over ``repeat`` runs of ``number`` encodings of ``spans``."""
    timer = timeit.Timer(lambda: encode(spans), timer=time.process_time)
    best = min(timer.repeat(repeat=repeat, number=number))
    return best / number / len(spans) * 1e6


def official(spans: Sequence[ReadableSpan]) -> bytes:
    """What ``OTLPSpanExporter.export`` serializes with."""
    return encode_spans(spans).SerializePartialToString()


class _Sink(BaseHTTPRequestHandler):
    """A collector stand-in that reads each export and answers 200."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def export_us(exporter: OTLPSpanExporter, spans: Sequence[ReadableSpan], repeat: int) -> float:
    """CPU of the calling thread (the one ``BatchSpanProcessor`` runs ``export`` in) per span
    for a whole ``export(spans)``: encoding and the HTTP POST; min over ``repeat`` calls."""
    exporter.export(spans)  # connection made, caches warm
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        exporter.export(spans)
        best = min(best, time.thread_time() - started)
    return best / len(spans) * 1e6


def export_row(spans: Sequence[ReadableSpan], repeat: int) -> str:
    """The table row for whole exports to a loopback sink, library exporter next to ours."""
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
    try:
        slow = export_us(OTLPSpanExporter(endpoint=url), spans, repeat)
        fast = export_us(DirectOTLPSpanExporter(endpoint=url), spans, repeat)
    finally:
        sink.shutdown()
        sink.server_close()
    label = "whole export() with its POST, interleaved"
    return f"| {label} | {slow:.1f} | | {fast:.2f} | {slow / fast:.0f}x |"


def main() -> None:
    """Print a markdown table of microseconds per span, official next to direct."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--number", type=int, default=10)
    args = parser.parse_args()
    servers, clients = gateway_spans(BATCH)
    mixed = [span for pair in zip(servers, clients, strict=True) for span in pair]
    print(
        "| spans (batches of 512) | official (us/span) | direct, Python (us/span) "
        "| direct, C (us/span) | speed-up |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    # one of each per exporter, kept across batches
    encoders = [TraceRequestEncoder(native=False)]
    if NATIVE:
        encoders.append(TraceRequestEncoder(native=True))
    for label, spans in (
        ("SERVER, 6 attributes", servers),
        ("CLIENT inference, 15 attributes", clients),
        ("both, interleaved", mixed[:BATCH]),
    ):
        slow = per_span_us(official, spans, args.repeat, args.number)
        cells = []
        for encoder in encoders:
            assert official(spans) == encoder.encode(spans)  # same bytes, or no comparison
            cells.append(per_span_us(encoder.encode, spans, args.repeat, args.number))
        columns = " | ".join(f"{us:.2f}" for us in cells) + (" | not built" if not NATIVE else "")
        print(f"| {label} | {slow:.1f} | {columns} | {slow / cells[-1]:.0f}x |")
    print(export_row(mixed[:BATCH], args.repeat))


if __name__ == "__main__":
    main()
