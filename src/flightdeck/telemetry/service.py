"""``Telemetry``: built once by ``create_app(settings)``, kept at ``app.state.telemetry``.

    telemetry.metrics_registry   a prometheus_client CollectorRegistry (app-owned, not global;
                                 it runs the batch before it is read)
    telemetry.tracer             an OpenTelemetry API Tracer (``LeanTracer``), None with tracing off
    telemetry.attempts           the router's per-attempt recorder factory
    telemetry.record_call(record, usage, provider)   a settled model call (from Accounting)
    telemetry.record_cache(result)                   a response cache lookup's result
    telemetry.record_rejection(scope_kind, reason)   a request a limit refused
    telemetry.stage(name)                            a span + duration for a plane's stage
    telemetry.batch                                  the request path's queued telemetry work
    telemetry.flush()                                run that queue now (readers, tests)

With everything off the hooks are None checks; nothing is exported.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest

from flightdeck.core.telemetry_settings import TelemetrySettings
from flightdeck.ledger.record import UsageRecord
from flightdeck.telemetry import logs
from flightdeck.telemetry import semconv as sc
from flightdeck.telemetry.attempts import AttemptTelemetry
from flightdeck.telemetry.batch import Batch, FlushingRegistry
from flightdeck.telemetry.metrics import FlightdeckMetrics, GenAIMetrics, StateCollector
from flightdeck.telemetry.requests import current_request
from flightdeck.telemetry.spans import LeanTracer, current_span
from flightdeck.telemetry.tracing import INSTRUMENTATION, make_tracer
from flightdeck.wire.chat import Usage


class Telemetry:
    """Traces, metrics and request logs of one app (see the module docstring).

    ``span_processors`` and ``meter_provider`` are for tests and embedders (an
    ``InMemorySpanExporter`` behind a ``SimpleSpanProcessor``; a ``MeterProvider`` with an
    ``InMemoryMetricReader``); span processors turn tracing on.
    """

    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        span_processors: list[SpanProcessor] | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.settings = settings
        self.conventions = sc.conventions(settings.semconv_opt_in)
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
        self.batch = Batch(after=logs.flush if settings.logs else None)  # lines: one write
        self.metrics_registry = FlushingRegistry(self.batch.flush, auto_describe=True)
        self.tracer: LeanTracer | None = None
        if settings.tracing_on or span_processors:
            self.tracer = make_tracer(settings, span_processors)
        self.meter_provider = meter_provider
        meter = meter_provider.get_meter(INSTRUMENTATION) if meter_provider else None
        self.metrics: FlightdeckMetrics | None = None
        self.genai: GenAIMetrics | None = None
        if settings.metrics:
            self.metrics = FlightdeckMetrics(
                self.metrics_registry, tenant_label=settings.tenant_label
            )
            self.genai = GenAIMetrics(self.conventions, self.metrics_registry, meter)
        elif meter is not None:
            self.genai = GenAIMetrics(self.conventions, CollectorRegistry(), meter)
        self.attempts: AttemptTelemetry | None = None
        if self.tracer is not None or self.genai is not None or self.metrics is not None:
            self.attempts = AttemptTelemetry(
                self.conventions,
                self.tracer,
                self.genai,
                self.metrics,
                record_content=settings.record_content,
                batch=self.batch,
            )
        self._providers: dict[str, str] = {}
        if settings.logs:
            logs.configure_request_logs()

    def watch(self, circuits: Any, ledger: Any | None) -> None:
        """Serve circuit states and ledger spool gauges at scrape time: ``circuits()`` yields
        (deployment id, state name); ``ledger()`` returns (records waiting, lag seconds)."""
        if self.metrics is not None:
            self.metrics_registry.register(StateCollector(circuits, ledger))

    def know_providers(self, providers: Iterable[tuple[str, str]]) -> None:
        """Deployment id -> provider name, for the token metrics of settled calls."""
        self._providers.update(providers)

    def record_call(self, record: UsageRecord, usage: Usage) -> None:
        """A settled model call (a cache hit too): the record gets the request's trace id (the
        console links slow requests to it) and the request's log line its facts at once; the
        metrics (request counters with the cache result, time to first token, token usage) are
        queued on ``batch``. Neither ``record`` nor ``usage`` changes after settling."""
        info = current_request()
        if record.trace_id is None and self.tracer is not None:
            if info is not None:
                record.trace_id = info.trace_id
            else:
                span_ctx = current_span().get_span_context()
                if span_ctx.is_valid:
                    record.trace_id = f"{span_ctx.trace_id:032x}"
        if record.cache_result is not None:  # the response cache's verdict, on the record
            self.record_cache(record.cache_result)
        if info is not None:
            info.tenant = record.tenant
            info.model = record.model_group
            info.deployment = record.deployment
            info.input_tokens += record.input_tokens
            info.output_tokens += record.output_tokens
        if self.metrics is not None or self.genai is not None:
            cache = (info.cache if info is not None else record.cache_result) or ""
            attrs = info.attempt_attrs if info is not None else None
            self.batch.add(self._call_metrics, record, usage, cache, attrs)

    def _call_metrics(
        self, record: UsageRecord, usage: Usage, cache: str, attrs: dict[str, Any] | None
    ) -> None:
        """The queued metrics of a settled call (``attrs``: its attempt's GenAI attributes)."""
        metrics = self.metrics
        if metrics is not None:
            labels = [record.model_group, record.deployment or "", str(record.status), cache]
            if metrics.tenant_label:
                labels.append(record.tenant)
            metrics.requests.labels(*labels).inc()
            if record.ttft_ms is not None:
                metrics.ttft.labels(record.model_group).observe(record.ttft_ms / 1000)
        if self.genai is not None and record.status < 400 and record.deployment is not None:
            attrs = attrs or {
                sc.OPERATION: "chat",
                sc.PROVIDER: self._providers.get(record.deployment, ""),
                sc.REQUEST_MODEL: record.model_group,
            }
            counts = {"input": record.input_tokens, "output": record.output_tokens}
            if usage.cached:
                counts["cache_read"] = usage.cached
            if usage.cache_write:
                counts["cache_write"] = usage.cache_write
            if usage.reasoning:
                counts["reasoning"] = usage.reasoning
            self.genai.tokens(counts, attrs)

    def record_cache(self, result: str) -> None:
        """A response cache lookup ended in ``result`` (one of ``semconv.CACHE_RESULT_VALUES``);
        also the ``cache`` of this request's log line and request counter."""
        info = current_request()
        if info is not None:
            info.cache = result
        if self.metrics is not None:
            self.metrics.cache_results.labels(result).inc()

    def record_rejection(self, scope_kind: str, reason: str) -> None:
        """A limit refused a request: ``scope_kind`` key, user or tenant; ``reason`` requests,
        tokens, concurrency, budget, ..."""
        if self.metrics is not None:
            self.metrics.limiter_rejections.labels(scope_kind, reason).inc()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """An INTERNAL span named ``name`` (one of ``semconv.STAGES``) and its duration in
        ``flightdeck_stage_duration_seconds{stage=name}``."""
        started = time.perf_counter()
        if self.tracer is None:
            yield
        else:
            with self.tracer.start_as_current_span(name, kind=SpanKind.INTERNAL):
                yield
        if self.metrics is not None:
            self.metrics.stage_duration.labels(name).observe(time.perf_counter() - started)

    def flush(self) -> None:
        """Run the queued request-path work now (``telemetry/batch.py``): for readers that do
        not scrape the registry (the OTel meter's readers, span exporters in tests)."""
        self.batch.flush()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (version 0.0.4)."""
        return generate_latest(self.metrics_registry)

    def shutdown(self) -> None:
        """Run the queued work, flush the request log and stop the exporters (on app
        shutdown)."""
        self.batch.flush()
        logs.flush()
        if self.tracer is not None:
            self.tracer.shutdown()
