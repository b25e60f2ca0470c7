"""``LeanTracer`` records what the OpenTelemetry SDK's tracer records: the same script of API
calls (every attribute type, events, links, statuses, exceptions, limits, calls on ended spans)
through both gives the same OTLP message once ids and times are set aside; sampling, trace
context and processors behave as the SDK's ``ParentBased`` tracer."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from flightdeck.telemetry import spans as spans_module
from flightdeck.telemetry.spans import LeanSpan, LeanTracer
from flightdeck.telemetry.tracing import LeanBatchSpanProcessor, outgoing_headers
from tests.telemetry.test_otlp_encoder import SCALARS, Spans, varied_spans


def normalized(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    """The official encoder's message with ids renumbered in order of appearance and every
    time and stack trace blanked (what differs between two runs of the same calls)."""
    message = encode_spans(spans)
    ids: dict[bytes, bytes] = {}

    def renumber(value: bytes) -> bytes:
        return ids.setdefault(value, len(ids).to_bytes(len(value) or 1)) if value else b""

    for resource in message.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                span.trace_id = renumber(span.trace_id)
                span.span_id = renumber(span.span_id)
                span.parent_span_id = renumber(span.parent_span_id)
                span.start_time_unix_nano = span.end_time_unix_nano = 0
                for event in span.events:
                    event.time_unix_nano = 0
                    for attribute in event.attributes:
                        if attribute.key == "exception.stacktrace":
                            attribute.value.string_value = "-"
                for link in span.links:
                    link.trace_id = renumber(link.trace_id)
                    link.span_id = renumber(link.span_id)
    return message


def test_the_same_calls_give_the_same_spans_as_the_sdk() -> None:
    sdk, lean = varied_spans(lean=False), varied_spans(lean=True)
    assert all(type(span) is LeanSpan for span in lean)
    assert normalized(lean) == normalized(sdk)
    server = next(s for s in lean if s.name == "POST /v1/chat/completions")
    assert server.parent is not None and (server.parent.span_id, server.parent.is_remote) == (
        0x1234,
        True,
    )


@pytest.mark.parametrize("limit", [0, 1, 2, None])
def test_limits_drop_and_count_as_the_sdk_does(limit: int | None) -> None:
    def run(lean: bool) -> list[ReadableSpan]:
        spans = Spans(lean)
        limits = SpanLimits(
            max_span_attributes=limit,
            max_events=limit,
            max_links=limit,
            max_span_attribute_length=limit,
            max_event_attributes=limit,
        )
        tracer = spans.provider(Resource.create({}), limits).get_tracer("t")
        with tracer.start_as_current_span("s", attributes=SCALARS) as span:
            span.set_attributes({"str": "set again moves to the end", "x": ["ab", "cd"]})
            span.set_attribute("", "empty key")
            span.set_attribute("obj", object())
            for i in range(3):
                span.add_event(f"e{i}", {"a": 1, "b": 2})
        return spans.finished()

    sdk, lean = run(False), run(True)
    assert normalized(lean) == normalized(sdk)
    assert [s.dropped_attributes for s in lean] == [s.dropped_attributes for s in sdk]
    assert [s.dropped_events for s in lean] == [s.dropped_events for s in sdk]


@pytest.mark.parametrize("length", [0, 3])
def test_a_string_length_limit_alone_cuts_strings_as_the_sdk_does(length: int) -> None:
    def run(lean: bool) -> list[ReadableSpan]:
        spans = Spans(lean)
        limits = SpanLimits(max_span_attribute_length=length)
        tracer = spans.provider(Resource.create({}), limits).get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"model": "gpt-4o-mini"}) as span:
            span.set_attribute("route", "/v1/chat/completions")
            span.set_attributes({"reasons": ["stop", "length"], "n": 12345})
        return spans.finished()

    lean = run(True)
    assert normalized(lean) == normalized(run(False))
    assert dict(lean[0].attributes)["model"] == "gpt-4o-mini"[:length]


def tracer(ratio: float, *processors: SpanProcessor) -> LeanTracer:
    return LeanTracer(
        Resource.create({"service.name": "t"}), InstrumentationScope("t"), ratio, processors
    )


def parent(sampled: bool, state: TraceState | None = None) -> Any:
    ctx = SpanContext(0xABC, 0xDEF, True, TraceFlags(1 if sampled else 0), state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_a_parent_s_sampled_flag_wins_over_the_ratio(ratio: float) -> None:
    state = TraceState([("vendor", "v1")])
    for sampled in (True, False):
        span = tracer(ratio).start_span("child", parent(sampled, state))
        ctx = span.get_span_context()
        assert span.is_recording() is sampled
        assert (ctx.trace_id, ctx.trace_flags.sampled, ctx.trace_state) == (0xABC, sampled, state)
        assert ctx.span_id not in (0, 0xDEF)


@pytest.mark.parametrize("flags", [0, 1, 2, 3, 0x80, 0xFF, 0x101])
def test_span_contexts_are_what_the_api_constructor_builds(flags: int) -> None:
    """``start_span`` builds its ``SpanContext`` without the constructor's checks and reads the
    parent's flags from a table: the same tuple, validity and flags as the API's own (bits
    other than sampled and random are not inherited, as in the SDK)."""
    state = TraceState([("vendor", "v1")])
    ctx = SpanContext(0xABC, 0xDEF, True, TraceFlags(flags), state)
    for context in (trace.set_span_in_context(NonRecordingSpan(ctx)), None):
        span = tracer(1.0).start_span("s", context)
        made = span.get_span_context()
        parent_flags = TraceFlags(flags) if context is not None else TraceFlags(0x3)
        expected_flags = TraceFlags(
            (TraceFlags.SAMPLED if parent_flags.sampled or context is None else 0)
            | (TraceFlags.RANDOM_TRACE_ID if parent_flags.random_trace_id else 0)
        )
        expected = SpanContext(
            made.trace_id,
            made.span_id,
            False,
            expected_flags,
            state if context is not None else None,
        )
        assert made == expected and type(made) is SpanContext
        assert made.is_valid and not made.is_remote
        assert span.is_recording() is made.trace_flags.sampled


def test_new_traces_follow_the_ratio_as_trace_id_ratio_based_does() -> None:
    random.seed(7)
    lean = tracer(0.25)
    reference = TraceIdRatioBased(0.25)
    for _ in range(2000):
        span = lean.start_span("root")
        ctx = span.get_span_context()
        expected = reference.should_sample(None, ctx.trace_id, "root").decision
        assert span.is_recording() is (expected is Decision.RECORD_AND_SAMPLE)
        assert ctx.is_valid and not ctx.is_remote
        assert ctx.trace_flags.random_trace_id  # as the SDK's random id generator marks it
    assert isinstance(tracer(0.0).start_span("root"), NonRecordingSpan)


def test_children_share_the_trace_and_point_at_their_parent() -> None:
    memory = InMemorySpanExporter()
    lean = tracer(1.0, SimpleSpanProcessor(memory))
    with lean.start_as_current_span("server", kind=SpanKind.SERVER) as server:
        with lean.start_as_current_span("client", kind=SpanKind.CLIENT):
            assert trace.get_current_span() is not server
        assert trace.get_current_span() is server
    client_span, server_span = memory.get_finished_spans()
    assert client_span.parent == server_span.get_span_context()
    assert client_span.context.trace_id == server_span.context.trace_id
    assert server_span.parent is None
    assert (server_span.kind, client_span.kind) == (SpanKind.SERVER, SpanKind.CLIENT)
    assert server_span.resource.attributes["service.name"] == "t"
    assert server_span.instrumentation_scope.name == "t"


class Recorder(SpanProcessor):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.calls.append(("start", span.name))

    def on_end(self, span: ReadableSpan) -> None:
        self.calls.append(("end", span.name))


def test_processors_see_start_and_end_and_shutdown_reaches_them() -> None:
    recorder, memory = Recorder(), InMemorySpanExporter()
    lean = tracer(1.0, recorder, SimpleSpanProcessor(memory))
    lean.start_span("a").end()
    tracer(1.0, recorder).start_span("b", parent(False)).end()  # not sampled: never seen
    assert recorder.calls == [("start", "a"), ("end", "a")]
    assert lean.force_flush()
    lean.shutdown()
    lean.start_span("after").end()
    assert [s.name for s in memory.get_finished_spans()] == ["a"]


def test_an_ended_span_ignores_changes_with_the_sdk_warnings(caplog: Any) -> None:
    memory = InMemorySpanExporter()
    span = tracer(1.0, SimpleSpanProcessor(memory)).start_span("s", attributes={"a": 1})
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR, "ignored after OK")
    span.end()
    with caplog.at_level(logging.WARNING, logger="flightdeck.telemetry.spans"):
        span.set_attribute("late", 1)
        span.set_attributes({"late": 2})
        span.add_event("late")
        span.update_name("late")
        span.end()
    assert "Setting attribute on ended span." in caplog.text
    assert "Tried calling add_event on an ended span." in caplog.text
    assert "Calling end() on an ended span." in caplog.text
    (finished,) = memory.get_finished_spans()
    assert (finished.name, dict(finished.attributes), finished.events) == ("s", {"a": 1}, ())
    assert finished.status.status_code is StatusCode.OK


def test_a_span_used_as_current_records_an_escaping_exception() -> None:
    memory = InMemorySpanExporter()
    lean = tracer(1.0, SimpleSpanProcessor(memory))
    with pytest.raises(ValueError), lean.start_as_current_span("s"):
        raise ValueError("bad input")
    with pytest.raises(ValueError), lean.start_as_current_span("quiet", record_exception=False):
        raise ValueError("no event")
    loud, quiet = memory.get_finished_spans()
    (event,) = loud.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "bad input"
    assert loud.status.status_code is StatusCode.ERROR
    assert quiet.events == () and quiet.status.status_code is StatusCode.ERROR
    assert otel_context.get_current() == {}


class OwnContext(SpanContext):
    """A span context of another API implementation: read through its properties."""

    @property
    def trace_id(self) -> int:
        return 0x123


@pytest.mark.parametrize("valid", [True, False])
def test_a_parent_context_that_is_not_the_api_tuple_is_read_through_its_properties(
    valid: bool,
) -> None:
    own = OwnContext(0xABC, 0xDEF if valid else 0, True, TraceFlags(1))
    span = tracer(1.0).start_span("s", trace.set_span_in_context(NonRecordingSpan(own)))
    made = span.get_span_context()
    assert (made.trace_id == 0x123) is valid  # the property's trace id, not the tuple's
    assert (span.parent is not None) is valid
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(own)))
    try:
        line = outgoing_headers()
    finally:
        otel_context.detach(token)
    assert line == (b"traceparent: 00-%032x-%016x-01\r\n" % (0x123, 0xDEF) if valid else b"")


@pytest.mark.parametrize("c_loop", [True, False], ids=["c", "python"])
def test_set_attributes_keeps_the_sdk_rules_with_and_without_the_c_loop(
    c_loop: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not c_loop:
        monkeypatch.setattr(spans_module, "_update", None)
    elif spans_module._update is None:
        pytest.skip("the C speedups are not built here")
    bad = object()
    calls = {
        "c": ["p", "q"],  # stored as a tuple
        "a": 2,  # set again: moves to the end
        "seq": (1, 2),  # a tuple: the SDK's cleaning (Python from here on)
        "": "empty key",  # dropped and counted
        "f": 0.5,
        "bad": bad,  # not an attribute value: what the SDK makes of it
        "t": True,
    }
    made = []
    for lean in (True, False):
        provider = Spans(lean).provider(Resource.create({}))
        span = provider.get_tracer("t").start_span("s", attributes={"a": 1, "b": "x"})
        span.set_attributes(calls)
        made.append((list(span.attributes.items()), span.dropped_attributes))
    assert made[0] == made[1]
    assert [key for key, _ in made[0][0]] == ["b", "c", "a", "seq", "f", "bad", "t"]
    assert made[0][0][1] == ("c", ("p", "q")) and made[0][1] == 1


def test_the_batch_processor_queues_lean_spans_and_checks_others() -> None:
    exported: list[list[ReadableSpan]] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            exported.append(list(spans))
            return SpanExportResult.SUCCESS

    processor = LeanBatchSpanProcessor(Keep())
    lean = tracer(1.0, processor)
    lean.start_span("lean").end()
    sampled = ReadableSpan("sdk", SpanContext(1, 2, False, TraceFlags(1)))
    unsampled = ReadableSpan("dropped", SpanContext(1, 3, False, TraceFlags(0)))
    processor.on_end(sampled)
    processor.on_end(unsampled)
    assert processor.force_flush()
    assert [span.name for batch in exported for span in batch] == ["lean", "sdk"]
    processor.shutdown()


@pytest.mark.parametrize("direct", [True, False], ids=["contextvar", "api"])
def test_current_span_and_attach_span_agree_with_the_api(
    direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct contextvar read and write (and, without it, the API path) give what
    ``trace.get_current_span`` and ``context.attach(set_span_in_context(...))`` give: for no
    span, a ``LeanSpan``, an unsampled span and a span of another tracer."""
    if not direct:
        monkeypatch.setattr(spans_module, "_CURRENT", None)
    else:
        assert spans_module._CURRENT is not None  # the default runtime context: the fast path
    assert spans_module.current_span() is trace.get_current_span() is trace.INVALID_SPAN
    lean, unsampled = tracer(1.0).start_span("lean"), tracer(0.0).start_span("unsampled")
    sdk = SdkTracerProvider().get_tracer("other").start_span("sdk")
    assert type(unsampled) is NonRecordingSpan
    outer = otel_context.attach(baggage.set_baggage("tenant", "acme"))  # another key
    for span in (lean, unsampled, sdk):
        expected = trace.set_span_in_context(span)
        token = spans_module.attach_span(span)
        try:
            assert otel_context.get_current() == expected  # the same context as the API's
            assert baggage.get_baggage("tenant") == "acme"
            assert spans_module.current_span() is trace.get_current_span() is span
            assert outgoing_headers().startswith(
                b"traceparent: 00-%032x-%016x-" % (span.get_span_context().trace_id,
                                                   span.get_span_context().span_id)
            )  # fmt: skip
        finally:
            otel_context.detach(token)
        assert spans_module.current_span() is trace.INVALID_SPAN
        assert baggage.get_baggage("tenant") == "acme"
    otel_context.detach(outer)
