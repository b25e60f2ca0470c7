"""The direct OTLP encoder against the official one: for varied spans from the real SDK (every
attribute value type, unicode, events, links, statuses, remote parents, dropped counts, several
resources and scopes), its bytes parse, with the official ``ExportTraceServiceRequest`` class,
to a message equal to the official encoder's. And the exporter end to end, posting to a real
HTTP server on loopback."""

from __future__ import annotations

import gzip
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from flightdeck.core.telemetry_settings import TelemetrySettings
from flightdeck.telemetry.otlp import (
    DirectOTLPSpanExporter,
    TraceRequestEncoder,
    encode_trace_request,
)
from flightdeck.telemetry.spans import LeanTracer
from flightdeck.telemetry.tracing import otlp_exporter

LONG = "ü" * 70 + "x" * 20_000  # lengths past one and two varint bytes
SCALARS: dict[str, Any] = {
    "str": "gpt-4o-mini",
    "str.empty": "",
    "str.unicode": "日本語 🚀 café",
    "str.long": LONG,
    "bool.true": True,
    "bool.false": False,
    "int.zero": 0,
    "int.one": 1,
    "int.negative": -1,
    "int.min": -(2**63),
    "int.max": 2**63 - 1,
    "int.large": 1 << 40,
    "float.zero": 0.0,
    "float.negative_zero": -0.0,
    "float.one": 1.0,
    "float.tiny": 5e-324,
    "float.nan": math.nan,
    "float.inf": math.inf,
    "float.negative_inf": -math.inf,
    "bytes": b"\x00\xff",
    # one-byte and two-byte varint edges, for lengths and values
    **{f"str.len{n}": "s" * n for n in (125, 126, 127, 128, 16381, 16382, 16383, 16384)},
    **{f"int.{n}": n for n in (127, 128, 16383, 16384, 2**21, 2**35)},
}
SEQUENCES: dict[str, Any] = {
    "seq.str": ["stop", "length", "", "ü"],
    "seq.bool": [True, False],
    "seq.int": [0, -1, 2**63 - 1, 300],
    "seq.float": [0.5, math.nan, -math.inf],
    "seq.empty": [],
    "seq.tuple": ("a",),
    "seq.with_none": ["a", None],
    "seq.nested": [[1, 2], ["x"]],
    "map": {"k": "v", "n": 1, "inner": {"b": True}},
}


@dataclass
class LeanProvider:
    """Hands out ``LeanTracer``s the way ``TracerProvider.get_tracer`` hands out SDK tracers."""

    resource: Resource
    limits: SpanLimits | None
    processor: SimpleSpanProcessor

    def get_tracer(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> LeanTracer:
        scope = InstrumentationScope(name, version, schema_url, attributes)
        return LeanTracer(self.resource, scope, 1.0, [self.processor], self.limits)


@dataclass
class Spans:
    """Finished spans from one or more real SDK providers (``LeanTracer``s with ``lean``)."""

    lean: bool = False
    memory: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)

    def provider(self, resource: Resource, limits: SpanLimits | None = None) -> Any:
        if self.lean:
            return LeanProvider(resource, limits, SimpleSpanProcessor(self.memory))
        provider = TracerProvider(resource=resource, span_limits=limits)
        provider.add_span_processor(SimpleSpanProcessor(self.memory))
        return provider

    def finished(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())


def remote_parent(trace_state: TraceState | None = None) -> Any:
    ctx = SpanContext(0xABC << 64 | 7, 0x1234, True, TraceFlags(1), trace_state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


def assert_same_request(spans: Sequence[ReadableSpan], encoder: TraceRequestEncoder) -> None:
    ours = encoder.encode(spans)
    official = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(ours) == official
    # Same message, same bytes: both write fields in field-number order.
    assert ours == official.SerializePartialToString()


def varied_spans(lean: bool = False) -> list[ReadableSpan]:
    spans = Spans(lean)
    gateway = spans.provider(Resource.create({"service.name": "fd", "service.version": "1"}))
    other = spans.provider(
        Resource({"service.name": "other", "host.id": 7}, schema_url="https://x/1.2.0")
    )
    tracer = gateway.get_tracer(
        "flightdeck", "0.9", schema_url="https://opentelemetry.io/schemas/1.30.0"
    )
    bare = gateway.get_tracer("bare")
    scoped = other.get_tracer("lib", attributes={"scope.attr": "v", "scope.n": 2})
    state = TraceState([("vendor", "opaque-1"), ("fd", "x")])
    with tracer.start_as_current_span(
        "POST /v1/chat/completions", remote_parent(state), SpanKind.SERVER, SCALARS
    ) as server:
        server.add_event("ev.scalars", SCALARS)
        server.add_event("", None)
        with bare.start_as_current_span("chat m", kind=SpanKind.CLIENT) as client:
            client.set_attributes(SEQUENCES)
            client.set_status(Status(StatusCode.ERROR, "upstream said 503 ✗"))
            with tracer.start_as_current_span("", kind=SpanKind.INTERNAL) as inner:
                inner.set_status(Status(StatusCode.OK))
                inner.set_attribute("only", "one")
    links = [
        Link(server.get_span_context(), {"link.attr": [1, 2]}),
        Link(SpanContext(5, 6, True, TraceFlags(0), state)),
        Link(SpanContext(8, 9, False), {}),
    ]
    for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER):
        with scoped.start_as_current_span(f"{kind.name} ü", kind=kind, links=links) as span:
            span.set_status(Status(StatusCode.ERROR))
    tracer.start_span("unended-start-only", start_time=0).end(end_time=1)
    # status left unset and no events (the shared unset status's constant field), with a remote
    # parent's tracestate, links and a name seen before
    plain = tracer.start_span("chat m", remote_parent(state), SpanKind.CLIENT, links=links)
    plain.set_attributes(SCALARS)
    plain.end()
    with pytest.raises(KeyError), bare.start_as_current_span("raises") as failing:
        failing.set_attribute("before", 1)
        raise KeyError("gone")
    return spans.finished()


@pytest.mark.parametrize("lean", [False, True], ids=["sdk", "lean"])
def test_varied_spans_encode_to_the_official_message(lean: bool) -> None:
    spans = varied_spans(lean)
    assert len(spans) == 8
    assert_same_request(spans, TraceRequestEncoder())
    # the cases are really there: two resources, three scopes, remote parent and links, state
    request = ExportTraceServiceRequest.FromString(encode_trace_request(spans))
    assert len(request.resource_spans) == 2
    assert sum(len(r.scope_spans) for r in request.resource_spans) == 3
    decoded = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert {s.trace_state for s in decoded} >= {"vendor=opaque-1,fd=x"}
    assert {s.flags for s in decoded} == {0x100, 0x300}
    assert {link.flags for s in decoded for link in s.links} == {0x100, 0x300}
    assert {s.status.code for s in decoded} == {0, 1, 2}
    assert {len(s.events) for s in decoded} == {0, 1, 2}


@pytest.mark.parametrize("lean", [False, True], ids=["sdk", "lean"])
@pytest.mark.parametrize("limit", [0, 1, 2])
def test_dropped_attributes_events_and_links_are_counted(limit: int, lean: bool) -> None:
    spans = Spans(lean)
    limits = SpanLimits(
        max_span_attributes=limit,
        max_events=limit,
        max_links=limit,
        max_event_attributes=limit,
        max_link_attributes=limit,
    )
    tracer = spans.provider(Resource.create({}), limits).get_tracer("t")
    links = [Link(SpanContext(i + 1, i + 1, False), {"a": 1, "b": 2, "c": 3}) for i in range(3)]
    with tracer.start_as_current_span("s", links=links, attributes=SCALARS) as span:
        for i in range(3):
            span.add_event(f"e{i}", {"a": 1, "b": 2, "c": 3})
    finished = spans.finished()
    assert finished[0].dropped_attributes and finished[0].dropped_links
    assert_same_request(finished, TraceRequestEncoder())


@pytest.mark.parametrize("lean", [False, True], ids=["sdk", "lean"])
def test_one_encoder_across_batches_keeps_types_apart_and_survives_its_cache_limit(
    lean: bool,
) -> None:
    spans = Spans(lean)
    tracer = spans.provider(Resource.create({})).get_tracer("t")
    # True == 1 == 1.0 and ("a",) == ("a",): the cache must not hand one type's bytes to another
    for value in (True, 1, 1.0, "1", ("a",), ["a"], False, 0, 0.0, -0.0):
        tracer.start_span("s", attributes={"same.key": value}).end()
    for i in range(5000):  # more distinct values than the cache holds
        tracer.start_span("s", attributes={"id": f"chatcmpl-{i}", "n": i, "f": i / 3}).end()
    finished = spans.finished()
    encoder = TraceRequestEncoder()
    for start in range(0, len(finished), 512):
        assert_same_request(finished[start : start + 512], encoder)
    assert_same_request(finished[:10], encoder)


def test_hand_made_readable_spans_and_scope_none() -> None:
    ctx = SpanContext(1, 2, False)
    spans = [
        ReadableSpan("plain", ctx, attributes={"a": "b", "n": 3}),
        ReadableSpan(
            "full",
            ctx,
            parent=SpanContext(1, 3, True),
            resource=Resource({"r": "s"}),
            events=[Event("e", {"k": [1.5]}, timestamp=10)],
            links=[Link(SpanContext(4, 5, False), {"x": "y"})],
            kind=SpanKind.SERVER,
            status=Status(StatusCode.ERROR, "no"),
            start_time=1,
            end_time=2**63,
            instrumentation_scope=InstrumentationScope("s", None, None, {"a": 1}),
        ),
        ReadableSpan("no attributes", ctx, attributes=None, start_time=5, end_time=6),
    ]
    assert_same_request(spans, TraceRequestEncoder())


class ReadsAttributesItsOwnWay(ReadableSpan):
    @property
    def attributes(self) -> Any:
        return {"from": "property"}


def test_a_readable_span_subclass_is_read_through_its_properties() -> None:
    span = ReadsAttributesItsOwnWay("sub", SpanContext(1, 2, False), attributes={"hidden": 1})
    assert_same_request([span], TraceRequestEncoder())
    decoded = ExportTraceServiceRequest.FromString(encode_trace_request([span]))
    attrs = decoded.resource_spans[0].scope_spans[0].spans[0].attributes
    assert [(a.key, a.value.string_value) for a in attrs] == [("from", "property")]


@pytest.mark.parametrize(
    "value", [2**63, -(2**63) - 1, [1, 2**64], {"k": object()}, object()], ids=repr
)
def test_an_attribute_the_official_encoder_cannot_encode_is_logged_and_left_out(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    span = ReadableSpan("s", SpanContext(1, 2, False), attributes={"bad": value, "good": "ok"})
    with caplog.at_level(logging.ERROR, logger="flightdeck.telemetry.otlp"):
        ours = ExportTraceServiceRequest.FromString(encode_trace_request([span]))
    assert [a.key for a in ours.resource_spans[0].scope_spans[0].spans[0].attributes] == ["good"]
    assert "Failed to encode key bad" in caplog.text
    assert ours == encode_spans([span])


def test_a_key_that_is_not_utf8_is_left_out_like_a_bad_value() -> None:
    span = ReadableSpan("s", SpanContext(1, 2, False), attributes={"\ud800": "v", "good": 1})
    ours = ExportTraceServiceRequest.FromString(encode_trace_request([span]))
    assert [a.key for a in ours.resource_spans[0].scope_spans[0].spans[0].attributes] == ["good"]
    assert ours == encode_spans([span])


def test_a_span_name_that_is_not_utf8_fails_the_batch_as_the_official_encoder_does() -> None:
    span = ReadableSpan("\ud800", SpanContext(1, 2, False))
    with pytest.raises(UnicodeEncodeError):
        encode_spans([span])
    with pytest.raises(UnicodeEncodeError):
        encode_trace_request([span])


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def collector() -> Iterator[tuple[str, list[Posted], list[int]]]:
    """A loopback OTLP/HTTP collector stand-in: records each POST, answers the next queued
    status (200 when none is queued)."""
    posted: list[Posted] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            posted.append(Posted(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posted, statuses
    server.shutdown()
    server.server_close()


def test_exporter_posts_the_encoded_batch_to_a_real_collector(
    collector: tuple[str, list[Posted], list[int]],
) -> None:
    url, posted, _ = collector
    spans = varied_spans()
    exporter = DirectOTLPSpanExporter(
        endpoint=url + "/v1/traces", headers={"x-tenant": "t1"}, compression=Compression.Gzip
    )
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE  # after shutdown, as the library
    [post] = posted
    assert post.path == "/v1/traces"
    assert post.headers["content-type"] == "application/x-protobuf"
    assert post.headers["x-tenant"] == "t1" and post.headers["content-encoding"] == "gzip"
    received = ExportTraceServiceRequest.FromString(gzip.decompress(post.body))
    assert received == encode_spans(spans)
    names = {s.name for r in received.resource_spans for ss in r.scope_spans for s in ss.spans}
    assert "POST /v1/chat/completions" in names and "chat m" in names


def test_exporter_keeps_the_library_failure_paths(
    collector: tuple[str, list[Posted], list[int]],
) -> None:
    url, posted, statuses = collector
    spans = varied_spans()
    statuses.append(400)  # not retryable: one POST, a failed export
    exporter = DirectOTLPSpanExporter(endpoint=url + "/v1/traces")
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(posted) == 1
    small = DirectOTLPSpanExporter(endpoint=url + "/v1/traces", max_request_size=100)
    assert small.export(spans) is SpanExportResult.FAILURE  # dropped before sending
    bad_name = ReadableSpan("\ud800", SpanContext(1, 2, False))
    assert exporter.export([bad_name]) is SpanExportResult.FAILURE  # encoding fails, no POST
    assert len(posted) == 1


def test_otlp_exporter_for_the_settings_is_the_direct_one() -> None:
    settings = TelemetrySettings(otlp_endpoint="http://127.0.0.1:4318/", otlp_headers={"a": "b"})
    exporter = otlp_exporter(settings)
    assert isinstance(exporter, DirectOTLPSpanExporter)
    assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    exporter.shutdown()
