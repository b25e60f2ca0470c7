"""Golden test: what the app emits (span names, kinds, attributes; metric names, units,
buckets, in OpenTelemetry and in Prometheus) is exactly what ``semconv`` registers, in both
``OTEL_SEMCONV_STABILITY_OPT_IN`` modes."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from opentelemetry.trace import SpanKind

from flightdeck.telemetry import semconv as sc
from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings
from tests.telemetry.conftest import Record

MODES = {"default": [], "latest": ["gen_ai_latest_experimental"]}


def test_the_registry_pins_one_commit_and_keeps_the_older_names_by_default() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", sc.PINNED_COMMIT)
    assert sc.conventions([]) is sc.DEFAULT
    assert sc.conventions(["http", "gen_ai_latest_experimental"]) is sc.LATEST
    default = {m.name for m in sc.DEFAULT.metrics()}
    assert default == {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
    latest = {m.name for m in sc.LATEST.metrics()}
    assert {
        "gen_ai.client.inference.duration",
        "gen_ai.client.inference.time_to_first_chunk",
        "gen_ai.client.inference.usage.input_tokens",
        "gen_ai.client.inference.usage.output_tokens",
    } <= latest
    assert "gen_ai.client.token.usage" not in latest


def traffic(url: str, key: str) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one two"}])
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    client.embeddings.create(model="m", input="five six")


def emitted_metrics(reader: Any) -> dict[str, Any]:
    data = reader.get_metrics_data()
    return {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


@pytest.mark.parametrize("mode", sorted(MODES))
def test_emitted_names_match_the_registry(
    mode: str, upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    conv = sc.conventions(MODES[mode])
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url, "id": "d1"}],
        telemetry={"semconv_opt_in": MODES[mode]},
    )
    rec = recorded(settings)
    traffic(rec.server.url, rec.server.api_key)

    spans = rec.finished(servers=3)
    server_spans = [s for s in spans if s.kind is SpanKind.SERVER]
    client_spans = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert {s.name for s in server_spans} == {"POST /v1/chat/completions", "POST /v1/embeddings"}
    assert {s.name for s in client_spans} == {"chat m", "embeddings m"}
    assert len(client_spans) == 3 and len(server_spans) == 3
    for span in server_spans:
        assert set(span.attributes or {}) <= sc.SERVER_SPAN.attributes
        assert span.attributes[sc.HTTP_ROUTE] in ("/v1/chat/completions", "/v1/embeddings")
    for span in client_spans:
        attrs = dict(span.attributes or {})
        assert set(attrs) <= conv.inference_span.attributes, set(attrs) - set(
            conv.inference_span.attributes
        )
        assert attrs[sc.PROVIDER] == "openai" and attrs[sc.REQUEST_MODEL] == "m"
        assert attrs[sc.DEPLOYMENT] == "d1" and attrs[sc.ATTEMPT] == 1
        assert isinstance(attrs[sc.RESPONSE_MODEL], str)
    chat = next(s for s in client_spans if s.attributes.get(sc.OPERATION) == "chat"
                and not s.attributes.get(sc.REQUEST_STREAM))  # fmt: skip
    assert chat.attributes[sc.INPUT_TOKENS] > 0 and chat.attributes[sc.OUTPUT_TOKENS] > 0
    assert list(chat.attributes[sc.FINISH_REASONS]) == ["stop"]
    streamed = next(s for s in client_spans if s.attributes.get(sc.REQUEST_STREAM))
    assert (sc.TIME_TO_FIRST_CHUNK in streamed.attributes) == (mode == "latest")

    metrics = emitted_metrics(rec.reader)
    expected = {spec.name: spec for spec in conv.metrics()}
    if mode == "latest":  # nothing reported cache or reasoning tokens, so those stay silent
        for kind in ("cache_read", "cache_write", "reasoning"):
            expected.pop(conv.token_counters[kind].name)
    assert set(metrics) == set(expected)
    exposition = rec.telemetry.exposition().decode()
    for name, spec in expected.items():
        assert metrics[name].unit == spec.unit, name
        for point in metrics[name].data.data_points:
            assert set(point.attributes) <= set(spec.attributes), name
            if spec.instrument == "histogram":
                assert isinstance(point, HistogramDataPoint)
                assert tuple(point.explicit_bounds) == tuple(float(b) for b in spec.buckets)
        assert f"# TYPE {spec.prometheus_name} " in exposition
    if mode == "default":
        usage = metrics["gen_ai.client.token.usage"].data.data_points
        assert {p.attributes[sc.TOKEN_TYPE] for p in usage} == {"input", "output"}
        # the same server and response model as the call's duration (from its attempt)
        assert all(p.attributes.get(sc.SERVER_ADDRESS) == "127.0.0.1" for p in usage)
        assert all(p.attributes.get(sc.RESPONSE_MODEL) for p in usage)
        # and the same operation: embeddings' tokens were counted as "chat"
        assert {p.attributes[sc.OPERATION] for p in usage} == {"chat", "embeddings"}
        assert 'le="81.92"' in exposition  # the duration buckets reach Prometheus too
        assert "_created" not in exposition
    else:
        counter = metrics["gen_ai.client.inference.usage.input_tokens"].data.data_points
        assert all(p.attributes[sc.TOKEN_MODALITY] == "text" for p in counter)
        assert "gen_ai_client_inference_usage_input_tokens_total{" in exposition
