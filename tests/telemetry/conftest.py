"""A Flightdeck server whose telemetry records into memory: spans, OTel metrics, Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from flightdeck.core.settings import Settings
from flightdeck.telemetry import Telemetry
from flightdeck.testing.server import ServerThread


@dataclass
class Recorded:
    server: ServerThread
    telemetry: Telemetry
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self, servers: int = 1) -> list[ReadableSpan]:
        """The finished spans once ``servers`` SERVER spans are among them (a SERVER span ends
        just after its response is sent, so the client may be a moment ahead)."""
        deadline = time.monotonic() + 10
        while True:
            spans = list(self.spans.get_finished_spans())
            done = sum(1 for s in spans if s.kind is SpanKind.SERVER)
            if done >= servers or time.monotonic() > deadline:
                return spans
            time.sleep(0.01)


Record = Callable[[Settings], Recorded]


@pytest.fixture
def recorded() -> Iterator[Record]:
    started: list[ServerThread] = []

    def start(settings: Settings) -> Recorded:
        spans = InMemorySpanExporter()
        reader = InMemoryMetricReader()
        telemetry = Telemetry(
            settings.telemetry,
            span_processors=[SimpleSpanProcessor(spans)],
            meter_provider=MeterProvider(metric_readers=[reader]),
        )
        server = ServerThread(settings, telemetry=telemetry).__enter__()
        started.append(server)
        return Recorded(server, telemetry, spans, reader)

    yield start
    for server in started:
        server.__exit__(None, None, None)


from tests.tenancy_support.services import fresh_pg_url  # noqa: E402, F401
