"""The C speedups (``flightdeck.telemetry._speedups``) against the Python paths they stand in
for: the OTLP encoder's bytes for every span, whichever part writes it (the common span really
written in C, the rest handed back), the attribute loop's results, no reference leaked, and no
crash when Python code runs inside a C loop. The Python encoder is itself checked against the
official one in ``test_otlp_encoder.py``, the attribute rules against the SDK in
``test_spans.py``."""

from __future__ import annotations

import collections
import enum
import os
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from flightdeck.telemetry import otlp
from flightdeck.telemetry.otlp import TraceRequestEncoder

from .test_otlp_encoder import Spans, varied_spans

if not otlp.NATIVE:
    if os.environ.get("CI") == "true":
        raise RuntimeError("flightdeck.telemetry._speedups is not built (make rebuilds it)")
    pytest.skip("the C encoder is not built here (no C compiler)", allow_module_level=True)

from flightdeck.telemetry import _speedups


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


def tracer(limits: SpanLimits | None = None) -> tuple[Any, InMemorySpanExporter]:
    """A ``LeanTracer`` and the memory its spans end up in."""
    spans = Spans(lean=True)
    provider = spans.provider(Resource.create({"service.name": "t"}), limits)
    return provider.get_tracer("flightdeck"), spans.memory


def both(spans: list[ReadableSpan]) -> tuple[bytes, bytes]:
    return (
        TraceRequestEncoder(native=True).encode(spans),
        TraceRequestEncoder(native=False).encode(spans),
    )


def remote(state: TraceState | None = None, is_remote: bool = True) -> Any:
    ctx = SpanContext(0xABC << 64 | 7, 0x1234, is_remote, TraceFlags(1), state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


def test_varied_spans_give_the_python_encoders_bytes() -> None:
    spans = varied_spans(lean=True)
    native, python = both(spans)
    assert native == python
    # the spans with events, links, a status or a tracestate went to Python, the rest to C
    written = _speedups.encode_spans(spans)
    assert any(w is None for w in written) and any(w is not None for w in written)
    for span, w in zip(spans, written, strict=True):
        if span.events or span.links or span.status.status_code.value:
            assert w is None


def test_the_gateways_two_spans_are_written_in_c() -> None:
    made, memory = tracer()
    server = made.start_span(
        "POST /v1/chat/completions",
        remote(),
        SpanKind.SERVER,
        {"http.request.method": "POST", "url.path": "/v1/chat/completions"},
    )
    client = made.start_span("chat m", trace.set_span_in_context(server), SpanKind.CLIENT)
    client.set_attributes(
        {
            "gen_ai.request.model": "m",
            "server.port": 443,
            "gen_ai.response.finish_reasons": ["stop", "length"],
            "gen_ai.request.temperature": 0.25,
            "flightdeck.cache_hit": False,
            "gen_ai.usage.input_tokens": -(2**63),
        }
    )
    client.end()
    server.set_attribute("http.response.status_code", 200)
    server.end()
    spans = list(memory.get_finished_spans())
    assert all(w is not None for w in _speedups.encode_spans(spans))
    native, python = both(spans)
    assert native == python == encode_spans(spans).SerializePartialToString()


@pytest.mark.parametrize(
    "value",
    [2**63, -(2**63) - 1, Color.RED, Text("x"), ["a", 1], ("a", 1), b"raw", None, "\ud800"],
    ids=repr,
)
def test_what_c_does_not_write_goes_to_python(value: Any) -> None:
    span = ReadableSpan("s", SpanContext(1, 2, False), attributes={"v": value})
    made, memory = tracer()
    made.start_span("s", attributes={"ok": 1}).end()
    lean = memory.get_finished_spans()[0]
    lean._attributes["v"] = value  # as an exotic processor might leave it
    assert _speedups.encode_spans([lean, span]) == [None, None]
    native, python = both([lean, span])
    assert native == python


def test_a_name_that_is_not_utf8_fails_as_in_python() -> None:
    made, memory = tracer()
    made.start_span("\ud800").end()
    spans = list(memory.get_finished_spans())
    assert _speedups.encode_spans(spans) == [None]
    for native in (True, False):
        with pytest.raises(UnicodeEncodeError):
            TraceRequestEncoder(native=native).encode(spans)


@pytest.mark.parametrize("ids", [(-1, 2), (1 << 128, 2), (1, -2), (1, 1 << 64), (1.5, 2)], ids=repr)
def test_ids_c_cannot_write_fail_as_in_python(ids: tuple[Any, Any]) -> None:
    made, memory = tracer()
    made.start_span("s").end()
    span = memory.get_finished_spans()[0]
    span._context = tuple.__new__(SpanContext, (*ids, False, TraceFlags(1), None, True))
    assert _speedups.encode_spans([span]) == [None]
    errors = []
    for native in (True, False):
        with pytest.raises(Exception) as raised:
            TraceRequestEncoder(native=native).encode([span])
        errors.append(raised.type)
    assert errors[0] is errors[1]


def test_dropped_attributes_are_written_in_c() -> None:
    made, memory = tracer(SpanLimits(max_span_attributes=2))
    made.start_span("s", attributes={"a": 1, "b": 2, "c": 3, "d": "x"}).end()
    spans = list(memory.get_finished_spans())
    assert spans[0].dropped_attributes == 2
    assert _speedups.encode_spans(spans)[0] is not None
    assert both(spans)[0] == encode_spans(spans).SerializePartialToString()


def test_no_reference_is_leaked_or_lost() -> None:
    made, memory = tracer()
    key, value, name = "k" * 20, "v" * 200, "n" * 30
    for parent in (None, remote(is_remote=False), remote()):
        made.start_span(name, parent, attributes={key: value, "t": (value,)}).end()
    spans = list(memory.get_finished_spans())
    before = [sys.getrefcount(o) for o in (*spans, key, value, name)]
    for _ in range(1000):
        _speedups.encode_spans(spans)
    assert [sys.getrefcount(o) for o in (*spans, key, value, name)] == before


ATTRIBUTE_VALUES = st.one_of(
    st.text(max_size=300),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=20), max_size=4),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.text(max_size=200),
    kind=st.sampled_from(list(SpanKind)),
    parent=st.sampled_from(["none", "local", "remote", "state"]),
    attributes=st.dictionaries(st.text(max_size=40), ATTRIBUTE_VALUES, max_size=8),
    times=st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
)
def test_any_span_gives_the_python_encoders_bytes(
    name: str, kind: SpanKind, parent: str, attributes: dict[str, Any], times: tuple[int, int]
) -> None:
    made, memory = tracer()
    context = {
        "none": None,
        "local": remote(is_remote=False),
        "remote": remote(),
        "state": remote(TraceState([("v", "1")])),
    }[parent]
    span = made.start_span(name, context, kind, start_time=times[0])
    for key, value in attributes.items():
        span.set_attribute(key, value)
    span.end(end_time=times[1])
    spans = list(memory.get_finished_spans())
    try:
        python = TraceRequestEncoder(native=False).encode(spans)
    except Exception as error:  # the batch fails: the same way, whichever part wrote it
        with pytest.raises(type(error)):
            TraceRequestEncoder(native=True).encode(spans)
        return
    assert TraceRequestEncoder(native=True).encode(spans) == python


def test_python_code_run_from_inside_cannot_pull_the_batch_away() -> None:
    """A ``__len__`` the C loop calls (here a span's events) that empties the batch: the C
    encoder works on its own copy of the batch (it read past the list's end before)."""
    made, memory = tracer()
    for name in ("a", "b"):
        made.start_span(name).end()
    batch = list(memory.get_finished_spans())

    class Emptying:
        def __len__(self) -> int:
            batch.clear()
            return 0

    batch[0]._events = Emptying()  # type: ignore[attr-defined]
    written = _speedups.encode_spans(batch)
    assert len(written) == 2 and all(w is not None for w in written)


def test_a_span_context_that_is_not_the_api_class_goes_to_python() -> None:
    made, memory = tracer()
    made.start_span("s").end()
    span = memory.get_finished_spans()[0]
    span._context = tuple(span._context)  # a plain tuple: Python reads its properties and fails
    assert _speedups.encode_spans([span]) == [None]
    with pytest.raises(AttributeError):
        TraceRequestEncoder(native=True).encode([span])


def test_the_attribute_loop_survives_a_finalizer_that_clears_the_attributes() -> None:
    """Replacing a value runs its finalizer, which may change the dict being stored (a str
    subclass is stored as it is): the C loop holds its own references (it used a freed key)."""
    made, _ = tracer()
    span = made.start_span("s")
    incoming: dict[str, Any] = {}

    class Clears(str):
        def __del__(self) -> None:
            incoming.clear()

    for _ in range(3):
        span._attributes["key-12345"] = Clears("old")  # type: ignore[attr-defined]
        key = "".join(["key-", str(12345)])  # the only reference is the dict's
        incoming[key] = "new"
        del key
        span.set_attributes(incoming)
        assert list(span.attributes.items()) == [("key-12345", "new")]


def test_the_attribute_loop_leaves_a_dict_subclass_to_python() -> None:
    ordered: dict[str, Any] = collections.OrderedDict()
    assert _speedups.update_attributes(ordered, {"a": 1}) == 0
    made, _ = tracer()
    span = made.start_span("s")
    span._attributes = ordered  # type: ignore[attr-defined]
    span.set_attributes({"a": 1, "b": 2})
    assert list(ordered.items()) == [("a", 1), ("b", 2)]
