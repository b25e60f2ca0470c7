"""One CLIENT inference span and the GenAI metrics of each upstream attempt.

The router opens an ``AttemptRecorder`` around every attempt (retries and fallbacks each get
their own): while it is open its span is current, so the provider sends the upstream a
``traceparent`` of this span. ``answered`` reads what the reply says (response model and id,
finish reasons, usage); leaving the block ends the span, with ``error.type`` if it raised.
Leaving reads the attempt's times and restores the context at once; the metrics and the
span's end are queued on the telemetry's ``Batch`` (``telemetry/batch.py``).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from flightdeck.providers.base import UpstreamReply
from flightdeck.telemetry import semconv as sc
from flightdeck.telemetry.batch import Batch
from flightdeck.telemetry.metrics import FlightdeckMetrics, GenAIMetrics
from flightdeck.telemetry.requests import current_request
from flightdeck.telemetry.semconv import Conventions
from flightdeck.telemetry.spans import attach_span, current_span


class AttemptRecorder:
    """Records one upstream attempt (see the module docstring)."""

    __slots__ = (
        "_attrs",
        "_deployment",
        "_first_chunk",
        "_group",
        "_metric_attrs",
        "_op",
        "_owner",
        "_span",
        "_started",
        "_stream",
        "_token",
    )  # fmt: skip

    def __init__(
        self,
        owner: AttemptTelemetry,
        span: Span | None,
        op: str,
        group: str,
        deployment: str,
        metric_attrs: dict[str, Any],
        stream: bool,
    ) -> None:
        self._owner = owner
        self._span = span
        self._token: Any = None
        self._op = op
        self._group = group
        self._deployment = deployment
        self._metric_attrs = metric_attrs
        self._stream = stream
        self._first_chunk: float | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> AttemptRecorder:
        if self._span is not None:
            self._token = attach_span(self._span)
        self._started = time.perf_counter()
        return self

    def answered(self, value: object) -> None:
        """The attempt succeeded with ``value`` (an UpstreamReply or an opened stream)."""
        elapsed = time.perf_counter() - self._started
        info = current_request()
        if info is not None:  # the settled call's token metrics carry the same attributes
            info.attempt_attrs = self._metric_attrs
        first_event = getattr(value, "first_event", None)
        reply: dict[str, Any] | None = None
        if isinstance(value, UpstreamReply):
            reply = value.json()
        elif isinstance(first_event, bytes):
            self._first_chunk = elapsed
            reply = _event_json(first_event)
        if reply is None:
            return
        model = reply.get("model")
        if isinstance(model, str):
            self._metric_attrs[sc.RESPONSE_MODEL] = model
        if self._span is not None and self._span.is_recording():
            self._span.set_attributes(self._owner.reply_attributes(reply, self._first_chunk))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._started
        error = message = None
        if exc is not None:
            error, message = error_type(exc), str(exc)[:200]
        ended = None
        if self._span is not None:
            ended = time.time_ns()
            if self._token is not None:
                otel_context.detach(self._token)
        self._owner.batch.add(self._finish, elapsed, error, message, ended)

    def _finish(
        self, elapsed: float, error: str | None, message: str | None, ended: int | None
    ) -> None:
        """The queued end of the attempt (``elapsed`` seconds; ``ended``: epoch ns)."""
        owner = self._owner
        attrs = self._metric_attrs
        if error is not None:
            attrs[sc.ERROR_TYPE] = error
        if owner.genai is not None:
            owner.genai.duration(self._op, elapsed, attrs)
            if self._first_chunk is not None:
                owner.genai.time_to_first_chunk(self._first_chunk, attrs)
        if owner.metrics is not None:
            owner.metrics.attempts.labels(self._group, self._deployment, error or "ok").inc()
        span = self._span
        if span is not None:
            if error is not None and span.is_recording():
                span.set_attribute(sc.ERROR_TYPE, error)
                span.set_status(Status(StatusCode.ERROR, message))
            span.end(ended)


class AttemptTelemetry:
    """Makes an ``AttemptRecorder`` per attempt; ``tracer``/``genai``/``metrics`` may be None
    (that part is off); ``batch`` runs the attempts' queued ends (a new one by default)."""

    def __init__(
        self,
        conv: Conventions,
        tracer: Tracer | None,
        genai: GenAIMetrics | None,
        metrics: FlightdeckMetrics | None,
        *,
        record_content: bool,
        batch: Batch | None = None,
    ) -> None:
        self.conv = conv
        self.batch = batch or Batch()
        self.tracer = tracer
        self.genai = genai
        self.metrics = metrics
        self.record_content = record_content
        self._servers: dict[str, tuple[str | None, int | None]] = {}

    def attempt(
        self,
        op: str,
        group: str,
        deployment: Any,
        number: int,
        body: dict[str, Any],
        *,
        retry: bool,
        fallback: str | None,
    ) -> AttemptRecorder:
        """A recorder for attempt ``number`` of a call to ``group`` on ``deployment`` (the
        router's Deployment: ``id``, ``config``, ``provider``); ``fallback`` names the group
        the call fell back from."""
        provider = deployment.provider.kind
        operation = "embeddings" if op == "embeddings" else "chat"
        host, port = self._server(deployment)
        stream = bool(body.get("stream")) if operation == "chat" else False
        metric_attrs: dict[str, Any] = {
            sc.OPERATION: operation,
            sc.PROVIDER: provider,
            sc.REQUEST_MODEL: group,
            sc.SERVER_ADDRESS: host,
            sc.SERVER_PORT: port,
        }
        if self.metrics is not None:
            if retry:
                self.metrics.retries.labels(group).inc()
            if fallback is not None:
                self.metrics.fallbacks.labels(fallback, group).inc()
        info = current_request()
        if info is not None:
            info.attempts += 1
        span = None
        # Under a parent that is not sampled the SDK would make a non-recording span after a
        # sampler call: skip both (the upstream still gets the parent's traceparent).
        if self.tracer is not None and _parent_sampled_or_none():
            attrs: dict[str, Any] = {
                **metric_attrs,
                sc.MODEL_GROUP: group,
                sc.DEPLOYMENT: deployment.id,
                sc.ATTEMPT: number,
            }
            if host is None:  # no server to name (the only attributes that can be None)
                del attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]
            if stream:
                attrs[sc.REQUEST_STREAM] = True
            max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
            if isinstance(max_tokens, int):
                attrs[sc.REQUEST_MAX_TOKENS] = max_tokens
            if self.record_content and isinstance(body.get("messages"), list):
                attrs[sc.INPUT_MESSAGES] = orjson.dumps(body["messages"]).decode()
            span = self.tracer.start_span(
                f"{operation} {group}", kind=self.conv.inference_span.kind, attributes=attrs
            )
        return AttemptRecorder(self, span, operation, group, deployment.id, metric_attrs, stream)

    def reply_attributes(self, reply: dict[str, Any], first_chunk: float | None) -> dict[str, Any]:
        """Span attributes read off an OpenAI-shaped reply (or a stream's first chunk)."""
        attrs: dict[str, Any] = {}
        if isinstance(reply.get("model"), str):
            attrs[sc.RESPONSE_MODEL] = reply["model"]
        if isinstance(reply.get("id"), str):
            attrs[sc.RESPONSE_ID] = reply["id"]
        choices = reply.get("choices")
        if isinstance(choices, list):
            reasons = [
                c["finish_reason"]
                for c in choices
                if isinstance(c, dict) and isinstance(c.get("finish_reason"), str)
            ]
            if reasons:
                attrs[sc.FINISH_REASONS] = reasons
            if self.record_content:
                attrs[sc.OUTPUT_MESSAGES] = orjson.dumps(
                    [c.get("message") for c in choices if isinstance(c, dict)]
                ).decode()
        attrs.update(usage_attributes(reply.get("usage")))
        if (
            first_chunk is not None
            and sc.TIME_TO_FIRST_CHUNK in self.conv.inference_span.attributes
        ):
            attrs[sc.TIME_TO_FIRST_CHUNK] = first_chunk
        return attrs

    def _server(self, deployment: Any) -> tuple[str | None, int | None]:
        known = self._servers.get(deployment.id)
        if known is None:
            base = getattr(deployment.provider, "base_url", None)
            known = (None, None)
            parts = urlsplit(base) if isinstance(base, str) else None
            if parts is not None and parts.hostname:  # both or neither
                port = parts.port or (443 if parts.scheme == "https" else 80)
                known = (parts.hostname, port)
            self._servers[deployment.id] = known
        return known


def _parent_sampled_or_none() -> bool:
    parent = current_span().get_span_context()
    return not parent.is_valid or parent.trace_flags.sampled


def usage_attributes(usage: Any) -> dict[str, int]:
    """``gen_ai.usage.*`` from an OpenAI ``usage`` object (what it reports, nothing else)."""
    if not isinstance(usage, dict):
        return {}
    out: dict[str, int] = {}
    pairs = ((sc.INPUT_TOKENS, "prompt_tokens"), (sc.OUTPUT_TOKENS, "completion_tokens"))
    for name, key in pairs:
        if isinstance(usage.get(key), int):
            out[name] = usage[key]
    prompt = usage.get("prompt_tokens_details")
    if isinstance(prompt, dict):
        if isinstance(prompt.get("cached_tokens"), int):
            out[sc.CACHE_READ_TOKENS] = prompt["cached_tokens"]
        if isinstance(prompt.get("cache_write_tokens"), int):
            out[sc.CACHE_WRITE_TOKENS] = prompt["cache_write_tokens"]
    completion = usage.get("completion_tokens_details")
    if isinstance(completion, dict) and isinstance(completion.get("reasoning_tokens"), int):
        out[sc.REASONING_TOKENS] = completion["reasoning_tokens"]
    return out


def error_type(exc: BaseException) -> str:
    """A low-cardinality ``error.type``: the Flightdeck error type, else the class name."""
    kind = getattr(exc, "type", None)
    if isinstance(kind, str) and kind:
        status = getattr(exc, "upstream_status", None)
        return str(status) if isinstance(status, int) else kind
    return type(exc).__qualname__


def _event_json(event: bytes) -> dict[str, Any] | None:
    if not event.startswith(b"data: {"):
        return None
    try:
        data = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
