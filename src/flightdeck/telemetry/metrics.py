"""The metrics one replica keeps: Prometheus collectors in an app-owned registry, and the same
GenAI measurements on an OpenTelemetry meter when one is configured (OTLP export, tests).

Every name, unit and bucket comes from ``flightdeck.telemetry.semconv``. Labels are bounded:
model groups, deployments, statuses, routes (the route template, never the raw path), scope
kinds; a tenant label only with ``telemetry.tenant_label``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry.metrics import Counter as OtelCounter
from opentelemetry.metrics import Histogram as OtelHistogram
from opentelemetry.metrics import Meter
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from flightdeck.telemetry import semconv as sc
from flightdeck.telemetry.loop_metrics import (
    CounterChild,
    HistogramChild,
    LoopCounter,
    LoopHistogram,
)
from flightdeck.telemetry.semconv import Conventions, MetricSpec

Attrs = dict[str, Any]


class _GenAIInstrument:
    """One GenAI metric in both sinks: a Prometheus collector and, maybe, an OTel instrument."""

    def __init__(self, spec: MetricSpec, registry: CollectorRegistry, meter: Meter | None):
        self.spec = spec
        labels = spec.prometheus_labels
        self.prom: LoopHistogram | LoopCounter
        if spec.instrument == "histogram":
            self.prom = LoopHistogram(
                spec.prometheus_name,
                spec.description,
                labels,
                registry=registry,
                buckets=spec.buckets,
            )
        else:
            self.prom = LoopCounter(
                spec.prometheus_name.removesuffix("_total"),
                spec.description,
                labels,
                registry=registry,
            )
        self._by_attrs: dict[tuple[tuple[str, Any], ...], HistogramChild | CounterChild] = {}
        self.otel: OtelHistogram | OtelCounter | None = None
        if meter is not None:
            if spec.instrument == "histogram":
                self.otel = meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=list(spec.buckets),
                )
            else:
                self.otel = meter.create_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )

    def record(self, value: float, attrs: Attrs, extra: tuple[str, Any] | None = None) -> None:
        """Record ``value`` with the spec's attributes read from ``attrs`` and the one
        attribute ``extra`` (a name and value: the token type, ...) over them (absent ones:
        "")."""
        # The child by the attributes as given: a tuple of a small dict's items is cheaper
        # than mapping every spec attribute to a label (measured); values are bounded, as
        # labels are (module docstring), so the cache is too.
        key = tuple(attrs.items()) if extra is None else (*attrs.items(), extra)
        child = self._by_attrs.get(key)
        if child is None:
            full = attrs if extra is None else {**attrs, extra[0]: extra[1]}
            child = self.prom.labels(*[_label(full.get(a)) for a in self.spec.attributes])
            self._by_attrs[key] = child
        if isinstance(child, HistogramChild):
            child.observe(value)
        else:
            child.inc(value)
        if self.otel is not None:
            if extra is not None:
                attrs = {**attrs, extra[0]: extra[1]}
            present = {k: attrs[k] for k in self.spec.attributes if attrs.get(k) is not None}
            if isinstance(self.otel, OtelHistogram):
                self.otel.record(value, present)
            else:
                self.otel.add(value, present)


def _label(value: Any) -> str:
    return "" if value is None else str(value)


class GenAIMetrics:
    """The GenAI client metrics of the active conventions (see ``semconv.Conventions``)."""

    def __init__(self, conv: Conventions, registry: CollectorRegistry, meter: Meter | None):
        self.conv = conv
        made = {s.name: _GenAIInstrument(s, registry, meter) for s in conv.metrics()}
        self._by_name = made
        self.chat_duration = made[conv.chat_duration.name]
        self.embeddings_duration = made[conv.embeddings_duration.name]
        self.first_chunk = made[conv.first_chunk.name] if conv.first_chunk else None
        self.token_usage = made[conv.token_usage.name] if conv.token_usage else None
        self.counters = {k: made[s.name] for k, s in conv.token_counters.items()}
        self.histograms = {k: made[s.name] for k, s in conv.token_histograms.items()}

    def duration(self, operation: str, seconds: float, attrs: Attrs) -> None:
        """One upstream attempt's duration (seconds)."""
        which = self.embeddings_duration if operation == "embeddings" else self.chat_duration
        which.record(seconds, attrs)

    def time_to_first_chunk(self, seconds: float, attrs: Attrs) -> None:
        if self.first_chunk is not None:
            self.first_chunk.record(seconds, attrs)

    def tokens(self, usage: dict[str, int], attrs: Attrs) -> None:
        """Token usage of one call: ``usage`` maps input/output/cache_read/cache_write/
        reasoning to counts (absent kinds were not reported)."""
        if self.token_usage is not None:
            for kind in ("input", "output"):
                if kind in usage:
                    self.token_usage.record(usage[kind], attrs, (sc.TOKEN_TYPE, kind))
        if self.counters:
            for kind, counter in self.counters.items():
                if usage.get(kind):
                    counter.record(usage[kind], attrs, (sc.TOKEN_MODALITY, "text"))
            for kind, histogram in self.histograms.items():
                if kind in usage:
                    histogram.record(usage[kind], attrs)


class FlightdeckMetrics:
    """Flightdeck's own Prometheus metrics (names in ``semconv``)."""

    def __init__(self, registry: CollectorRegistry, *, tenant_label: bool) -> None:
        self.tenant_label = tenant_label
        labels = list(sc.REQUEST_LABELS) + (["tenant"] if tenant_label else [])
        http = sc.HTTP_REQUEST_DURATION
        self.http_duration = LoopHistogram(
            http.prometheus_name,
            http.description,
            http.prometheus_labels,
            registry=registry,
            buckets=http.buckets,
        )
        self.requests = LoopCounter(
            sc.REQUESTS.removesuffix("_total"),
            "Model calls by model group, deployment, status and cache result.",
            labels,
            registry=registry,
        )
        self.ttft = LoopHistogram(
            sc.TIME_TO_FIRST_TOKEN,
            "Time from a streamed call's start to its first event, in seconds.",
            ["model_group"],
            registry=registry,
            buckets=sc.FIRST_CHUNK_BUCKETS,
        )
        self.attempts = LoopCounter(
            sc.ATTEMPTS.removesuffix("_total"),
            "Upstream attempts by deployment and outcome (ok, or the error type).",
            ["model_group", "deployment", "outcome"],
            registry=registry,
        )
        self.retries = LoopCounter(
            sc.RETRIES.removesuffix("_total"),
            "Attempts after the first one inside a model group.",
            ["model_group"],
            registry=registry,
        )
        self.fallbacks = LoopCounter(
            sc.FALLBACKS.removesuffix("_total"),
            "Attempts that went to a fallback group.",
            ["model_group", "fallback"],
            registry=registry,
        )
        self.limiter_rejections = LoopCounter(
            sc.LIMITER_REJECTIONS.removesuffix("_total"),
            "Requests refused by a limit, by the kind of scope and the reason.",
            ["scope_kind", "reason"],
            registry=registry,
        )
        self.cache_results = LoopCounter(
            sc.CACHE_RESULTS.removesuffix("_total"),
            "Response cache lookups by result.",
            ["result"],
            registry=registry,
        )
        self.stage_duration = LoopHistogram(
            sc.STAGE_DURATION,
            "Duration of assistant and search stages, in seconds.",
            ["stage"],
            registry=registry,
            buckets=sc.HTTP_DURATION_BUCKETS,
        )


class StateCollector(Collector):
    """Gauges read at scrape time: circuit state per deployment, the ledger's spool depth and
    write lag. ``circuits`` and ``ledger`` are callables so nothing is kept in step."""

    def __init__(
        self,
        circuits: Callable[[], Iterable[tuple[str, str]]],
        ledger: Callable[[], tuple[int, float]] | None,
    ) -> None:
        self.circuits = circuits
        self.ledger = ledger

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            sc.CIRCUIT_STATE,
            "1 for the state each deployment's circuit is in (closed, half_open, open).",
            labels=["deployment", "state"],
        )
        for deployment, current in self.circuits():
            for name in sc.CIRCUIT_STATES:
                state.add_metric([deployment, name], 1.0 if name == current else 0.0)
        yield state
        if self.ledger is not None:
            depth, lag = self.ledger()
            yield GaugeMetricFamily(
                sc.LEDGER_SPOOL_DEPTH, "Usage records waiting for the database.", value=depth
            )
            yield GaugeMetricFamily(
                sc.LEDGER_WRITE_LAG,
                "Age of the oldest usage record not yet in the database, in seconds.",
                value=lag,
            )
