"""The metrics of one ``flightdeck media ingest`` run, for ``metrics.prom`` or a Pushgateway.
Light on purpose: the media CLI and its workers import it, not the rest of telemetry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from flightdeck.telemetry import semconv as sc


def media_registry(documents: int, failures: dict[str, int], seconds: float) -> CollectorRegistry:
    """A registry holding one ingest run's totals (for ``metrics.prom`` or a Pushgateway)."""
    registry = CollectorRegistry()
    docs = Counter(
        sc.MEDIA_DOCUMENTS.removesuffix("_total"), "Documents ingested.", registry=registry
    )
    docs.inc(documents)
    failed = Counter(
        sc.MEDIA_FAILURES.removesuffix("_total"),
        "Items that failed to ingest, by reason.",
        ["reason"],
        registry=registry,
    )
    for reason, count in failures.items():
        failed.labels(reason).inc(count)
    rate = Gauge(sc.MEDIA_RATE, "Documents ingested per second of the run.", registry=registry)
    rate.set(documents / seconds if seconds > 0 else 0.0)
    return registry
