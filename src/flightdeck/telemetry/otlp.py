"""OTLP/HTTP span export with a direct protobuf wire-format encoder.

``encode_trace_request(spans)`` writes the bytes of an ``ExportTraceServiceRequest`` for a batch
of SDK ``ReadableSpan``s straight from their fields, without building protobuf message objects.
It emits what the official encoder
(``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans``, 1.45) emits, parsed
equal by the official message classes: spans grouped by resource then instrumentation scope in
order of first appearance; resource attributes and ``schema_url``; scope name, version,
attributes and ``schema_url``; trace, span and parent ids, ``trace_state``, name, kind, start and
end times, attributes, events, links (ids, attributes, dropped count, flags; no trace state,
as the official encoder), status (always present), dropped counts, and ``flags``
(``SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK``, plus ``..._IS_REMOTE_MASK`` when the parent, or for
a link its context, is remote). Attribute values: str, bool, int (int64), float (double),
bytes, None (an empty ``AnyValue``), sequences (``ArrayValue``) and mappings (``KeyValueList``);
an attribute that cannot be encoded (another type, an int outside int64) is logged and left
out, as the official encoder does.

Source of the wire layout: ``opentelemetry/proto/trace/v1/trace.proto``,
``common/v1/common.proto``, ``resource/v1/resource.proto`` and
``collector/trace/v1/trace_service.proto`` of open-telemetry/opentelemetry-proto, as compiled in
the ``opentelemetry-proto`` 1.45.2 Python package (generated from the upstream proto tag that
release pins; ``Resource.entity_refs`` and the ``*_strindex`` fields there are never written
by the official encoder either). ``tests/telemetry/test_otlp_encoder.py`` parses this encoder's
bytes with that package's message classes and compares them with the official encoder's.

Where the C speedups are built (``_speedups.c``, compiled at install by ``hatch_build.py``),
the common span (a ``LeanSpan`` without events, links, status or ``tracestate``, with str,
bool, int, float and str-tuple attributes) is written there, about 5x faster; every other span
goes through this module's encoder, which is also the whole path without them
(``tests/telemetry/test_speedups.py`` compares the two byte for byte).

``DirectOTLPSpanExporter`` is the library's ``OTLPSpanExporter`` (endpoint, headers,
compression, timeouts, retries, size limit and exporter metrics stay the library's) with only
the serialization swapped: 7-9x less CPU per gateway span (``bench/gateway/otlp_encode.py``,
table in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import DEFAULT_TRACE_STATE, Link, SpanContext, SpanKind, Status, StatusCode

from flightdeck.telemetry.spans import LeanSpan, speedups

__all__ = ["DirectOTLPSpanExporter", "TraceRequestEncoder", "encode_trace_request"]

_logger = logging.getLogger(__name__)

_SMALL = tuple(bytes((i,)) for i in range(128))
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# Span.kind (field 6): the proto enum is the SDK's value + 1 (0 is SPAN_KIND_UNSPECIFIED).
# Keyed by identity: an Enum's hash is a Python-level call.
_KIND = {id(kind): b"\x30" + _SMALL[kind.value + 1] for kind in SpanKind}
_SPAN_ID_TAG = 0x1208 << 64  # Span.span_id (field 2, 8 bytes) after a 16-byte trace_id
_SPAN_ID_MAX = (1 << 64) - 1
_STATUS_CODES = {id(code): code.value for code in StatusCode}
# Span.flags (field 16, fixed32) and Link.flags (field 6, fixed32): HAS_IS_REMOTE 0x100,
# IS_REMOTE 0x200.
_SPAN_FLAGS = (b"\x85\x01\x00\x01\x00\x00", b"\x85\x01\x00\x03\x00\x00")
_LINK_FLAGS = (b"\x35\x00\x01\x00\x00", b"\x35\x00\x03\x00\x00")
_CACHE_LIMIT = 4096
_LEAN_UNSET = LeanSpan._status  # the status every LeanSpan starts with
_UNSET_STATUS = b"\x7a\x00"  # Span.status, empty (what _status makes of an unset one)
if speedups is not None:  # the C encoder of the common span (_speedups.c)
    speedups.configure(
        LeanSpan,
        _LEAN_UNSET,
        DEFAULT_TRACE_STATE,
        SpanContext,
        tuple(sorted(SpanKind, key=lambda k: k.value)),
    )
NATIVE = speedups is not None


def _varint(n: int) -> bytes:
    """Base-128 varint of a non-negative ``n`` (lengths, counts, enums)."""
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field: ``tag``, the varint length of ``body``, ``body``."""
    n = len(body)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + body


def _head(tag: bytes, pieces: list[bytes]) -> bytes:
    """``tag`` and the varint length of a field whose body is ``pieces`` joined."""
    return tag + _varint(sum(map(len, pieces)))


def _int64(value: int) -> bytes:
    """An int64 varint (two's complement in 10 bytes when negative); ValueError outside int64."""
    if value < 0:
        if value < _INT64_MIN:
            raise ValueError(f"{value} is outside int64")
        return _varint(value + (1 << 64))
    if value > _INT64_MAX:
        raise ValueError(f"{value} is outside int64")
    return _SMALL[value] if value < 0x80 else _varint(value)


def _any_value(value: Any) -> bytes:
    """The body of an ``AnyValue``, in the official encoder's order of type checks."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _delimited(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _int64(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _delimited(b"\x3a", value)
    if isinstance(value, Sequence):
        items = b"".join([_delimited(b"\x0a", _any_value(v)) for v in value])
        return _delimited(b"\x2a", items)
    if isinstance(value, Mapping):
        pairs = b"".join([_delimited(b"\x0a", _key_value(str(k), v)) for k, v in value.items()])
        return _delimited(b"\x32", pairs)
    raise TypeError(f"invalid type {type(value)} of value {value!r}")


def _key_value(key: str, value: Any) -> bytes:
    """The body of a ``KeyValue``: the key (left out when empty) and the value (always present,
    an empty ``AnyValue`` for None)."""
    head = _delimited(b"\x0a", key.encode()) if key else b""
    return head + _delimited(b"\x12", _any_value(value))


def _plain(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The dict under the SDK's ``BoundedAttributes`` (whose ``items()`` is the generic, slow
    ``MutableMapping`` one), else ``attributes``."""
    inner = getattr(attributes, "_dict", None)
    return inner if type(inner) is dict else attributes


_Fields = tuple[SpanContext | None, SpanContext | None, str, SpanKind, int | None, int | None]
_Collections = tuple[Mapping[str, Any] | None, Sequence[Event], Sequence[Link], int, int, int]


def _fields(span: ReadableSpan) -> _Fields:
    """Context, parent, name, kind, start and end; read off the fields of the SDK's own
    ``ReadableSpan`` (what its span processors hand to exporters) and of ``LeanSpan`` (which
    keeps the same fields), where a property costs a call each."""
    if type(span) is ReadableSpan or type(span) is LeanSpan:
        return (
            span._context,
            span._parent,
            span._name,
            span._kind,
            span._start_time,
            span._end_time,
        )
    return (
        span.get_span_context(),
        span.parent,
        span.name,
        span.kind,
        span.start_time,
        span.end_time,
    )


def _collections(span: ReadableSpan) -> _Collections:
    """Attributes, events and links as plain containers, and their dropped counts. From the
    SDK's own ``ReadableSpan`` they are read off its fields: its properties copy the events and
    links and wrap the attributes every call, the dropped counts take an ABC ``isinstance``
    each, and iterating ``BoundedAttributes`` goes through the generic ``MutableMapping``.
    A ``LeanSpan`` keeps plain containers and its own dropped counts."""
    if type(span) is LeanSpan:
        return (
            span._attributes,
            span._events,
            span._links,
            span._dropped_attributes,
            span._dropped_events,
            span._dropped_links,
        )
    if type(span) is not ReadableSpan:
        return (
            span.attributes,
            span.events,
            span.links,
            span.dropped_attributes,
            span.dropped_events,
            span.dropped_links,
        )
    attributes: Any = span._attributes
    events: Any = span._events
    links: Any = span._links
    dropped_attributes = dropped_events = dropped_links = 0
    if isinstance(attributes, BoundedAttributes):
        attributes, dropped_attributes = attributes._dict, attributes.dropped
    if isinstance(events, BoundedList):
        events, dropped_events = getattr(events, "_dq", events), events.dropped
    if isinstance(links, BoundedList):
        links, dropped_links = getattr(links, "_dq", links), links.dropped
    return attributes, events, links, dropped_attributes, dropped_events, dropped_links


def _status(status: Status) -> bytes:
    """``Span.status`` (field 15), present even when empty as in the official encoder."""
    if status is _LEAN_UNSET:  # the status every LeanSpan starts with
        return _UNSET_STATUS
    code = _STATUS_CODES[id(status.status_code)]
    if not code and not status.description:
        return _UNSET_STATUS
    body = _delimited(b"\x12", status.description.encode()) if status.description else b""
    if code:
        body += b"\x18" + _SMALL[code]
    return _delimited(b"\x7a", body)


def _span_id(ctx: SpanContext) -> bytes:
    return ctx.span_id.to_bytes(8, "big")


class TraceRequestEncoder:
    """Writes ``ExportTraceServiceRequest`` bytes for batches of SDK spans.

    It keeps the encoded attribute fields of str and int values (and tuples of str) it
    has seen (up to 4,096, then starts again): a gateway's spans repeat most of theirs (method,
    route, model, provider, port, status), and a hit skips the encoding. One per exporter;
    calls from two threads at once are safe too, as every cached entry depends only on its
    key (a race costs a recomputation, never a wrong field)."""

    def __init__(self, native: bool = NATIVE) -> None:
        if native and speedups is None:
            raise RuntimeError("flightdeck.telemetry._speedups is not built")
        # the C encoder's encode_spans, which writes the common span (see _speedups.c)
        self._native = speedups.encode_spans if native else None
        # tag -> key -> value -> the whole field (see _attributes), and how many are kept
        self._tables: dict[bytes, dict[str, dict[object, bytes]]] = {}
        self._kept = 0
        # attribute key -> _key_head(key)
        self._keys: dict[str, bytes] = {}
        # span name -> its Span.name field
        self._names: dict[str, bytes] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialized request for ``spans`` (what the official
        ``encode_spans(spans).SerializePartialToString()`` gives, parsed equal by the official
        message class). Raises ValueError where the official encoder raises too (a span or
        event name that is not valid UTF-8); attributes that cannot be encoded are skipped."""
        grouped: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
        # Resource hashes by JSON-dumping its attributes and InstrumentationScope in Python:
        # each object (the spans keep them alive, so ids stay unique) is looked up once.
        by_identity: dict[tuple[int, int], list[bytes]] = {}
        native = self._native(spans) if self._native is not None else None
        for i, span in enumerate(spans):
            resource, scope = span.resource, span.instrumentation_scope
            body = native[i] if native is not None else None
            bodies = by_identity.get((id(resource), id(scope)))
            if bodies is None:
                scopes = grouped.setdefault(resource, {})
                bodies = by_identity[id(resource), id(scope)] = scopes.setdefault(scope or None, [])
            bodies.append(body if body is not None else self._span(span))
        # One flat list of pieces joined once: a nested join per level would copy the whole
        # batch (hundreds of KB, fresh pages each time) once per level.
        out: list[bytes] = []
        for resource, scopes in grouped.items():
            pieces = [_delimited(b"\x0a", self._attributes(b"\x0a", resource.attributes))]
            for scope, bodies in scopes.items():
                scope_pieces = self._scope_spans(scope, bodies)
                pieces.append(_head(b"\x12", scope_pieces))
                pieces.extend(scope_pieces)
            if resource.schema_url:
                pieces.append(_delimited(b"\x1a", resource.schema_url.encode()))
            out.append(_head(b"\x0a", pieces))
            out.extend(pieces)
        return b"".join(out)

    def _attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        """Repeated ``KeyValue`` fields under ``tag``; an attribute that fails is logged and
        skipped (the official encoder's policy)."""
        if not attributes:
            return b""
        # tag -> key -> value -> field: no key tuple to build and hash per attribute. A table
        # holds str, int and str-tuple values, which never equal one another; bools (True == 1)
        # and floats (0.0 == -0.0, encoded differently) are not kept.
        tables = self._tables.get(tag)
        if tables is None:
            tables = self._tables[tag] = {}
        parts = []
        for key, value in _plain(attributes).items():
            kind = type(value)
            if kind is str or kind is int or (kind is tuple and all(type(v) is str for v in value)):
                by_value = tables.get(key)
                if by_value is None:
                    by_value = tables[key] = {}
                field = by_value.get(value)
                if field is None:
                    field = self._field(tag, key, value, kind)
                    if field is None:
                        continue
                    self._kept += 1
                    if self._kept > _CACHE_LIMIT:
                        self._tables.clear()
                        self._kept = 1
                        tables = self._tables[tag] = {}
                        by_value = tables[key] = {}
                    by_value[value] = field
            else:
                field = self._field(tag, key, value, kind)
                if field is None:
                    continue
            parts.append(field)
        return b"".join(parts)

    def _field(self, tag: bytes, key: str, value: Any, kind: type) -> bytes | None:
        """One attribute as a ``tag`` field holding a ``KeyValue``; None (logged) for a key or
        value the official encoder cannot encode either."""
        try:
            head = self._keys.get(key)
            if head is None:
                head = self._key_head(key)
            body: bytes
            if kind is str:
                raw: bytes = value.encode()
                n = len(raw)
                if n < 0x7E:  # AnyValue (tag, length, text) and its length: one byte each
                    body = head + _SMALL[n + 2] + b"\x0a" + _SMALL[n] + raw
                else:
                    body = head + _delimited(b"", _delimited(b"\x0a", raw))
            elif kind is int:
                raw = _int64(value)
                body = head + _SMALL[len(raw) + 1] + b"\x18" + raw
            else:
                body = head + _delimited(b"", _any_value(value))
        except Exception as error:
            _logger.exception("Failed to encode key %s: %s", key, error)
            return None
        n = len(body)
        return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + body

    def _key_head(self, key: str) -> bytes:
        """``KeyValue.key`` (field 1, left out when empty) and the tag of ``KeyValue.value``."""
        head = (_delimited(b"\x0a", key.encode()) if key else b"") + b"\x12"
        if len(self._keys) >= _CACHE_LIMIT:
            self._keys.clear()
        self._keys[key] = head
        return head

    def _span(self, span: ReadableSpan) -> bytes:
        """One ``Span`` as a ``ScopeSpans.spans`` field (2)."""
        ctx, parent, name, kind, start, end = _fields(span)
        assert ctx is not None  # an SDK span always has its context
        # trace_id (1), then span_id (2): one int to bytes (a span id past 64 bits would spill
        # into the tag: refused as the official encoder's to_bytes(8) refuses it).
        span_id = ctx.span_id
        if span_id > _SPAN_ID_MAX:
            raise OverflowError(f"span id {span_id:#x} is longer than 8 bytes")
        parts = [b"\x0a\x10" + (ctx.trace_id << 80 | _SPAN_ID_TAG | span_id).to_bytes(26)]
        if ctx.trace_state:
            state = ",".join([f"{key}={value}" for key, value in ctx.trace_state.items()])
            parts.append(_delimited(b"\x1a", state.encode()))
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8))
        parts.append(self._name(name))
        parts.append(_KIND[id(kind)])
        if start:
            parts.append(b"\x39" + _FIXED64(start))
        if end:
            parts.append(b"\x41" + _FIXED64(end))
        attributes, events, links, dropped_attributes, dropped_events, dropped_links = _collections(
            span
        )
        if attributes:
            parts.append(self._attributes(b"\x4a", attributes))
        if dropped_attributes:
            parts.append(b"\x50" + _varint(dropped_attributes))
        if events:
            parts.extend([self._event(event) for event in events])
        if dropped_events:
            parts.append(b"\x60" + _varint(dropped_events))
        if links:
            parts.extend([self._link(link) for link in links])
        if dropped_links:
            parts.append(b"\x70" + _varint(dropped_links))
        parts.append(_status(span._status if type(span) is LeanSpan else span.status))
        parts.append(_SPAN_FLAGS[bool(parent and parent.is_remote)])
        return _delimited(b"\x12", b"".join(parts))

    def _name(self, name: str) -> bytes:
        """``Span.name`` (field 5; nothing for an empty name), kept per name: names repeat
        (the route, the operation and model)."""
        field = self._names.get(name)
        if field is None:
            field = _delimited(b"\x2a", name.encode()) if name else b""
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            self._names[name] = field
        return field

    def _event(self, event: Event) -> bytes:
        parts = [b"\x09" + _FIXED64(event.timestamp)] if event.timestamp else []
        if event.name:
            parts.append(_delimited(b"\x12", event.name.encode()))
        parts.append(self._attributes(b"\x1a", event.attributes))
        if event.dropped_attributes:
            parts.append(b"\x20" + _varint(event.dropped_attributes))
        return _delimited(b"\x5a", b"".join(parts))

    def _link(self, link: Link) -> bytes:
        ctx = link.context
        parts = [
            b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + _span_id(ctx),
            self._attributes(b"\x22", link.attributes),
        ]
        if link.dropped_attributes:
            parts.append(b"\x28" + _varint(link.dropped_attributes))
        parts.append(_LINK_FLAGS[bool(ctx.is_remote)])
        return _delimited(b"\x6a", b"".join(parts))

    def _scope_spans(self, scope: InstrumentationScope | None, spans: list[bytes]) -> list[bytes]:
        """The pieces of one ``ScopeSpans``: the scope (present, empty for None), its spans,
        its schema URL."""
        head = b""
        if scope is not None:
            head = b"".join(
                [
                    _delimited(b"\x0a", scope.name.encode()) if scope.name else b"",
                    _delimited(b"\x12", scope.version.encode()) if scope.version else b"",
                    self._attributes(b"\x1a", scope.attributes),
                ]
            )
        pieces = [_delimited(b"\x0a", head), *spans]
        if scope is not None and scope.schema_url:
            pieces.append(_delimited(b"\x1a", scope.schema_url.encode()))
        return pieces


def encode_trace_request(spans: Sequence[ReadableSpan]) -> bytes:
    """``TraceRequestEncoder().encode(spans)``: one batch, with a fresh cache."""
    return TraceRequestEncoder().encode(spans)


class DirectOTLPSpanExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` (OTLP/HTTP protobuf) whose request body comes from
    ``encode_trace_request`` instead of protobuf message objects; every other step of
    ``export`` (shutdown check, exporter metrics, size limit, the HTTP client with its
    headers, compression, timeout and retries) is the library's, in the library's order.
    Takes the library's constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoder = TraceRequestEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode and send one batch; the library's ``export`` with its one
        ``encode_spans(spans).SerializePartialToString()`` call replaced."""
        if self._shutdown:
            _logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                body = self._encoder.encode(spans)
            except Exception as error:  # the library's policy: the batch fails, export goes on
                _logger.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(body, self._max_request_size):
                _logger.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size %d",
                    len(body),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"Serialized span request size {len(body)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            sent = self._client.export(body)
            if not sent.success:
                result.error = sent.error
                result.error_attrs = (
                    {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                    if sent.status_code is not None
                    else None
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
