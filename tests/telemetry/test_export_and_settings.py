"""OTLP export when configured (a real HTTP collector stand-in decoding the protobuf), nothing
when not; the standard OTEL_* variables; prompt text only with ``record_content``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind

from flightdeck.core.settings import load_settings
from flightdeck.telemetry import Telemetry
from flightdeck.telemetry import semconv as sc
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread
from tests.conftest import MakeSettings, http
from tests.telemetry.conftest import Record

CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "quokka-marker"}]}'


def post(server: ServerThread, headers: dict[str, str] | None = None) -> int:
    auth = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    return http("POST", server.url + "/v1/chat/completions", CHAT, {**auth, **(headers or {})})[0]


def test_spans_are_exported_by_otlp_http_protobuf(
    upstream: FakeUpstream, make_settings: MakeSettings
) -> None:
    received: list[tuple[str, str, ExportTraceServiceRequest]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            kind = self.headers["content-type"]
            received.append((self.path, kind, ExportTraceServiceRequest.FromString(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    collector = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        telemetry={"otlp_endpoint": endpoint, "service_name": "fd-test"},
    )
    with ServerThread(settings) as server:
        assert post(server) == 200
    collector.shutdown()  # the app's shutdown flushed the batch before this
    assert received and {(p, k) for p, k, _ in received} == {
        ("/v1/traces", "application/x-protobuf")
    }
    names = {
        span.name
        for _, _, req in received
        for rs in req.resource_spans
        for scope in rs.scope_spans
        for span in scope.spans
    }
    assert {"POST /v1/chat/completions", "chat m"} <= names
    services = {
        a.value.string_value
        for _, _, req in received
        for rs in req.resource_spans
        for a in rs.resource.attributes
        if a.key == "service.name"
    }
    assert services == {"fd-test"}


def test_tracing_off_makes_no_span_and_sends_no_traceparent(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    server = serve(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    assert server.app.state.telemetry.tracer is None
    assert post(server, {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}) == 200
    assert "traceparent" not in upstream.record.last_headers


def test_standard_otel_variables_fill_the_telemetry_settings(tmp_path: Path) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_SERVICE_NAME": "gateway-eu",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
    }
    settings = load_settings(None, environ)
    telemetry = settings.telemetry
    assert telemetry.otlp_endpoint == "http://collector:4318" and telemetry.tracing_on
    assert (telemetry.service_name, telemetry.sample_ratio) == ("gateway-eu", 0.25)
    assert Telemetry(telemetry).conventions is sc.LATEST
    config = tmp_path / "f.toml"
    config.write_text('[telemetry]\nservice_name = "from-file"\n')
    assert load_settings(config, environ).telemetry.service_name == "from-file"
    assert Telemetry(load_settings(None, {}).telemetry).conventions is sc.DEFAULT


def test_prompt_and_completion_text_only_with_record_content(
    upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    for record_content in (False, True):
        settings = make_settings(
            [{"name": "m", "base_url": upstream.base_url}],
            telemetry={"record_content": record_content},
        )
        rec = recorded(settings)
        assert post(rec.server) == 200
        spans = rec.finished()
        texts = [str(value) for s in spans for value in (s.attributes or {}).values() if value]
        client = next(s for s in spans if s.kind is SpanKind.CLIENT)
        assert any("quokka-marker" in t for t in texts) == record_content
        assert (sc.INPUT_MESSAGES in (client.attributes or {})) == record_content
        assert (sc.OUTPUT_MESSAGES in (client.attributes or {})) == record_content
