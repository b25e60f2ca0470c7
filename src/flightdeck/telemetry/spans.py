"""Spans for the request path: an OpenTelemetry API ``Tracer`` whose spans cost about a third
of the SDK's CPU, handed to the SDK's own span processors and exporters.

Why not the SDK's ``Tracer``: at 100% sampling the gateway made two SDK spans per request, and
they were most of the cost of tracing (``docs/benchmarks.md``: 1.45.2's ``start_span`` builds a
lock, a ``BoundedAttributes`` with its own lock, two ``BoundedList``s and a ``ReadableSpan``
copy per span, and cleans every attribute through ABC ``isinstance`` checks).
``LeanTracer`` keeps the SDK's behaviour where a user can see it and drops the rest:

- sampling as ``ParentBased(root)``: a valid parent's sampled flag decides, else the root
  sampler (``ALWAYS_ON`` at ratio 1, ``ALWAYS_OFF`` at 0, else ``TraceIdRatioBased``'s bound on
  the trace id); an unsampled span is the API's ``NonRecordingSpan`` with a new span id;
- ids from the SDK's ``RandomIdGenerator``, the ``RANDOM_TRACE_ID`` flag as the SDK sets it,
  the parent's ``tracestate`` kept;
- attributes with the SDK's rules and limits (``SpanLimits`` from ``OTEL_*`` variables): a
  non-empty str key; str, bool, int and float stored as given, anything else cleaned by the
  SDK's own ``_clean_attribute_value`` (sequences to tuples, ...); a key set again moves to the
  end; past the count limit the oldest goes and counts as dropped; string values cut at the
  length limit;
- events, links, status and exceptions as the SDK records them (``set_status`` ignores UNSET
  and anything after OK; the context manager records an escaping exception as an event and
  sets ERROR); calls on an ended span are ignored with the SDK's warning.

A ``LeanSpan`` is itself a ``ReadableSpan``: once ended it never changes, so the processors get
the span itself (the SDK copies it into a new one). No lock: a span is changed by the task that
made it; two threads changing one span at once is outside the contract (a race could lose an
attribute, never corrupt the span). The tracer is thread-safe.

Where the C speedups are built (``_speedups.c``, compiled at install by ``hatch_build.py``),
``set_attributes``' loop over a dict runs there, with the same rules, up to the first pair
that needs the SDK's cleaning; this module's loop does the rest and is the whole path without
them (``tests/telemetry/test_spans.py`` checks both against the SDK).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from itertools import islice
from time import time_ns
from types import TracebackType
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes, _clean_attribute_value
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor, _is_valid_link
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    DEFAULT_TRACE_STATE,
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace import propagation as trace_propagation
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

__all__ = ["LeanSpan", "LeanTracer", "attach_span", "current_span", "speedups"]

try:  # the C hot paths (_speedups.c), where they are built
    from flightdeck.telemetry import _speedups as speedups
except ImportError:  # pragma: no cover - a pure-Python install (no C compiler at install)
    speedups = None  # type: ignore[assignment]
_update = speedups.update_attributes if speedups is not None else None

_NO_OP_STARTS = (
    SpanProcessor.on_start,
    BatchSpanProcessor.on_start,
    SimpleSpanProcessor.on_start,
)
_logger = logging.getLogger(__name__)
_PLAIN = frozenset({bool, int, float})  # stored as given (str too, without a length limit)
_CLEAN = _PLAIN | {str}
_UNSET = Status(StatusCode.UNSET)
_RANDOM = TraceFlags.RANDOM_TRACE_ID
# (sampled, random trace id) -> the span's flags
_FLAGS = {
    (s, r): TraceFlags((TraceFlags.SAMPLED if s else 0) | (_RANDOM if r else 0))
    for s in (False, True)
    for r in (False, True)
}


def _inherit(parent_flags: int) -> tuple[bool, TraceFlags]:
    """(sampled, the child's flags) for a parent's ``trace_flags``."""
    flags = TraceFlags(parent_flags)
    return flags.sampled, _FLAGS[flags.sampled, flags.random_trace_id]


_INHERIT = {flags: _inherit(flags) for flags in range(256)}  # parent flags -> _inherit(...)


def _context_var() -> tuple[ContextVar[context_api.Context], str] | None:
    """OpenTelemetry's current-context contextvar and the current span's key in a context,
    where its runtime context is the default contextvars one (``OTEL_PYTHON_CONTEXT`` can name
    another) and both are where opentelemetry-api 1.x keeps them; None otherwise."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    key = getattr(trace_propagation, "_SPAN_KEY", None)
    ours = type(runtime) is ContextVarsRuntimeContext
    return (var, key) if ours and isinstance(var, ContextVar) and isinstance(key, str) else None


_CURRENT = _context_var()


def current_span() -> trace_api.Span:
    """``trace.get_current_span()``: the span current in this context, ``INVALID_SPAN`` if
    none. For the spans Flightdeck makes it reads the context's contextvar directly (the API
    takes four calls and an ABC ``isinstance`` check); anything else goes through the API."""
    if _CURRENT is not None:
        var, key = _CURRENT
        span = var.get().get(key)
        if type(span) in _OURS:
            return span  # type: ignore[return-value]
    return trace_api.get_current_span()


def attach_span(span: trace_api.Span) -> Token[context_api.Context]:
    """``context.attach(trace.set_span_in_context(span))``: make ``span`` current; the token
    for ``context.detach``."""
    if _CURRENT is not None:
        var, key = _CURRENT
        return var.set(context_api.Context({**var.get(), key: span}))
    return context_api.attach(trace_api.set_span_in_context(span))


_new_context = tuple.__new__


class LeanSpan(trace_api.Span, ReadableSpan):
    """A recording span (see the module docstring); made by ``LeanTracer.start_span``.

    Only what differs between spans is set per span; the rest are class defaults until a span
    changes them (events, links, status, dropped counts), and the resource and scope are the
    tracer's. ``ReadableSpan``'s properties and ``telemetry/otlp.py`` read the same fields."""

    _end_time: int | None = None
    _status = _UNSET
    _events: Sequence[Event] = ()  # a list once an event is added
    _links: Sequence[Link] = ()
    _dropped_attributes = 0
    _dropped_events = 0
    _dropped_links = 0
    _record_exception = True
    _set_status_on_exception = True
    _instrumentation_info = None

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        start_time: int,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._start_time = start_time
        self._attributes: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name="{self._name}", context={self._context})'

    @property
    def resource(self) -> Resource:
        """The tracer's resource (``service.name`` and the SDK's defaults)."""
        return self._tracer.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        """The tracer's instrumentation scope (``flightdeck``)."""
        return self._tracer.scope

    @property
    def dropped_attributes(self) -> int:
        """Attributes left out: past the count limit, or with a key that is not a str."""
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        """Events left out past the events limit."""
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        """Links left out past the links limit."""
        return self._dropped_links

    def get_span_context(self) -> SpanContext:
        """This span's context (trace and span ids, flags, ``tracestate``)."""
        return self._context  # type: ignore[return-value]  # always set by the tracer

    def is_recording(self) -> bool:
        """True until ``end``."""
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        """Set one attribute (the SDK's rules: see the module docstring)."""
        if self._end_time is not None:
            _logger.warning("Setting attribute on ended span.")
            return
        self._set(key, value)

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        """Set each of ``attributes`` in order, as ``set_attribute`` does."""
        if self._end_time is not None:
            _logger.warning("Setting attribute on ended span.")
            return
        mine = self._attributes
        limits = self._tracer.limits
        if limits.max_span_attribute_length is not None or (
            limits.max_span_attributes is not None
            and len(mine) + len(attributes) > limits.max_span_attributes
        ):
            for key, value in attributes.items():
                self._set(key, value)
            return
        # Within the limits (the usual case): the rules of _set without its checks of them,
        # from the first pair the C loop (the same rules, for a dict) did not store.
        done = _update(mine, attributes) if _update is not None else 0
        if done == len(attributes):
            return
        pairs: Any = islice(attributes.items(), done, None) if done else attributes.items()
        for key, value in pairs:
            kind = type(value)
            if type(key) is not str or not key:
                self._set(key, value)
                continue
            if kind not in _CLEAN:
                if kind is not list or not all(type(v) is str for v in value):
                    self._set(key, value)
                    continue
                value = tuple(value)  # what the SDK's cleaning makes of a list of str
            if key in mine:
                del mine[key]
            mine[key] = value

    def _set(self, key: Any, value: Any) -> None:
        limits = self._tracer.limits
        if type(key) is not str or not key:
            _logger.warning(
                "invalid key `%s`. must be non-empty string. Dropping key from attributes.", key
            )
            self._dropped_attributes += 1
            return
        kind = type(value)
        if kind not in _PLAIN and (kind is not str or limits.max_span_attribute_length is not None):
            value = _clean_attribute_value(value, limits.max_span_attribute_length)
        attributes = self._attributes
        if key in attributes:
            del attributes[key]
        maximum = limits.max_span_attributes
        if maximum is not None and len(attributes) >= maximum:
            if maximum == 0:
                self._dropped_attributes += 1
                return
            _logger.warning(
                "Attributes dict is full. Dropping the oldest key-value pair from attributes to "
                "make space for the new key-value pair."
            )
            del attributes[next(iter(attributes))]
            self._dropped_attributes += 1
        attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        """An event at ``timestamp`` (ns since the epoch; now if None), with the SDK's limits."""
        if self._ended("add_event"):
            return
        limits = self._tracer.limits
        bounded = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        event = Event(name=name, attributes=bounded, timestamp=timestamp)
        events = self._events
        if type(events) is not list:
            events = self._events = []
        if limits.max_events is not None and len(events) >= limits.max_events:
            self._dropped_events += 1
            if limits.max_events == 0:
                return
            del events[0]
        events.append(event)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        """A link to ``context`` (kept if valid, or if it has attributes or a ``tracestate``)."""
        if not _is_valid_link(context, attributes) or self._ended("add_link"):
            return
        self._add_link(Link(context, self._tracer.link_attributes(attributes)))

    def _add_link(self, link: Link) -> None:
        maximum = self._tracer.limits.max_links
        links = self._links
        if type(links) is not list:
            links = self._links = []
        if maximum is not None and len(links) >= maximum:
            self._dropped_links += 1
            if maximum == 0:
                return
            del links[0]
        links.append(link)

    def update_name(self, name: str) -> None:
        """Rename the span (the server span takes its route once matched)."""
        if not self._ended("update_name"):
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """The SDK's rules: UNSET is ignored, and so is anything once the status is OK."""
        if self._ended("set_status") or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is StatusCode.UNSET:
                return
            if description is not None:
                _logger.warning(
                    "Description %s ignored. Use either `Status` or `(StatusCode, Description)`",
                    description,
                )
            self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An ``exception`` event with the conventions' type, message and stack trace: the
        SDK's own ``Span.record_exception``, which only calls ``add_event``."""
        record = sdk_trace.Span.record_exception
        record(self, exception, attributes, timestamp, escaped)  # type: ignore[arg-type]

    def end(self, end_time: int | None = None) -> None:
        """End the span (now if ``end_time`` is None) and hand it to the processors."""
        if self._end_time is not None:
            _logger.warning("Calling end() on an ended span.")
            return
        self._end_time = end_time if end_time is not None else time_ns()
        for processor in self._tracer.processors:
            processor.on_end(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """End the span; an escaping exception is recorded and sets ERROR (as configured)."""
        if exc_val is not None and self._end_time is None:
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()

    def _ended(self, operation: str) -> bool:
        if self._end_time is None:
            return False
        _logger.warning("Tried calling %s on an ended span.", operation)
        return True


_OURS = (LeanSpan, NonRecordingSpan)  # the span types current_span reads directly


class LeanTracer(trace_api.Tracer):
    """Makes ``LeanSpan``s (see the module docstring).

    ``sample_ratio`` is the root sampler's share of new traces (0..1); ``processors`` get
    ``on_start(span, parent_context)`` and ``on_end(span)`` of every recording span (the SDK's
    ``BatchSpanProcessor`` in front of an exporter, a test's ``SimpleSpanProcessor``, ...);
    ``limits`` default to ``SpanLimits()``, which reads the ``OTEL_*_LIMIT`` variables.
    """

    def __init__(
        self,
        resource: Resource,
        scope: InstrumentationScope,
        sample_ratio: float,
        processors: Sequence[SpanProcessor],
        limits: SpanLimits | None = None,
    ) -> None:
        self.resource = resource
        self.scope = scope
        self.processors = tuple(processors)
        # on_start is a no-op in the SDK's own processors: not called for each span
        self._starters = tuple(p for p in self.processors if type(p).on_start not in _NO_OP_STARTS)
        self.limits = limits or SpanLimits()
        self._ids = RandomIdGenerator()
        self.sample_ratio = sample_ratio
        self._bound = TraceIdRatioBased.get_bound_for_rate(min(max(sample_ratio, 0.0), 1.0))

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        """A span under the span current in ``context`` (the current context if None), or a
        new trace's root if that one is not valid; a ``NonRecordingSpan`` if not sampled."""
        current = current_span() if context is None else trace_api.get_current_span(context)
        parent: SpanContext | None = current.get_span_context()
        if type(parent) is SpanContext:  # a tuple: its fields without a property call each
            trace_id, _, _, parent_flags, state, valid = parent
        elif parent is not None:
            trace_id, parent_flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
            valid = parent.is_valid
        if parent is not None and valid:
            inherited = _INHERIT.get(parent_flags)
            if inherited is None:  # not an 8-bit value: what TraceFlags' properties read
                inherited = _inherit(parent_flags)
            sampled, flags = inherited
        else:
            parent = None
            trace_id = self._ids.generate_trace_id()
            sampled = self._sample(trace_id)
            flags = _FLAGS[sampled, True]
            state = DEFAULT_TRACE_STATE
        # What SpanContext(trace_id, span_id, False, flags, state) builds, without its checks:
        # both ids are valid (a valid parent's or the generator's, which never makes 0).
        span_context = _new_context(
            SpanContext, (trace_id, self._ids.generate_span_id(), False, flags, state, True)
        )
        if not sampled:
            return NonRecordingSpan(span_context)
        span = LeanSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            start_time if start_time is not None else time_ns(),
        )
        if not record_exception:
            span._record_exception = False
        if not set_status_on_exception:
            span._set_status_on_exception = False
        if attributes:
            span.set_attributes(attributes)
        for link in links or ():
            if link and _is_valid_link(link.context, link.attributes):
                span._add_link(Link(link.context, self.link_attributes(link.attributes)))
        for processor in self._starters:
            # processors type their argument as the SDK's Span; they use it as a ReadableSpan
            processor.on_start(span, parent_context=context)  # type: ignore[arg-type]
        return span

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        """``start_span``, current while the block runs (the SDK's ``use_span`` semantics)."""
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )  # fmt: skip
        with trace_api.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current

    def link_attributes(self, attributes: types.Attributes) -> BoundedAttributes:
        """A link's attributes under the link attribute limits (immutable, as in the SDK)."""
        return BoundedAttributes(
            self.limits.max_link_attributes,
            attributes,
            immutable=True,
            max_value_len=self.limits.max_attribute_length,
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush every processor; False if one did not finish in time."""
        return all([p.force_flush(timeout_millis) for p in self.processors])

    def shutdown(self) -> None:
        """Shut every processor down (the batch processor exports what it still holds)."""
        for processor in self.processors:
            processor.shutdown()

    def _sample(self, trace_id: int) -> bool:
        ratio = self.sample_ratio
        if ratio >= 1.0:
            return True
        if ratio <= 0.0:
            return False
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound
