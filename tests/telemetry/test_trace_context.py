"""W3C trace context through the gateway: a valid ``traceparent`` continues the trace to the
upstream, a malformed one starts a new trace, ``tracestate`` passes through; every upstream
attempt (retries, fallbacks) is its own CLIENT span of the request's trace."""

from __future__ import annotations

import re
import time

import pytest
from opentelemetry.trace import SpanKind

from flightdeck.telemetry import semconv as sc
from flightdeck.testing import Behaviour, FakeUpstream
from tests.conftest import MakeSettings, http
from tests.telemetry.conftest import Record

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")
CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'

MALFORMED = {
    "all-zero trace id": f"00-{'0' * 32}-{PARENT}-01",
    "all-zero parent id": f"00-{TRACE}-{'0' * 16}-01",
    "uppercase hex": f"00-{TRACE.upper()}-{PARENT}-01",
    "version ff": f"ff-{TRACE}-{PARENT}-01",
    "short trace id": f"00-{TRACE[:30]}-{PARENT}-01",
    "long parent id": f"00-{TRACE}-{PARENT}00-01",
    "short flags": f"00-{TRACE}-{PARENT}-1",
    "not hex": f"00-{TRACE[:-1]}g-{PARENT}-01",
}


def call(url: str, key: str, headers: dict[str, str]) -> int:
    status, _, _ = http(
        "POST",
        url + "/v1/chat/completions",
        CHAT,
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
    )
    return status


@pytest.mark.parametrize("tracestate", [None, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"])
def test_valid_traceparent_continues_the_trace_to_the_upstream(
    tracestate: str | None, upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    rec = recorded(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01"}
    if tracestate:
        headers["tracestate"] = tracestate
    assert call(rec.server.url, rec.server.api_key, headers) == 200
    sent = upstream.record.last_headers
    match = TRACEPARENT.fullmatch(sent.get("traceparent", ""))
    assert match and match.group(1) == TRACE
    assert sent.get("tracestate") == tracestate
    spans = rec.finished()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    client = next(s for s in spans if s.kind is SpanKind.CLIENT)
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT
    assert f"{server.context.trace_id:032x}" == TRACE
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert match.group(2) == f"{client.context.span_id:016x}"  # the upstream's parent: the attempt


def test_an_unsampled_parent_records_nothing_but_still_reaches_the_upstream(
    upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    rec = recorded(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    assert call(rec.server.url, rec.server.api_key, {"traceparent": f"00-{TRACE}-{PARENT}-00"})
    match = TRACEPARENT.fullmatch(upstream.record.last_headers.get("traceparent", ""))
    assert match is not None and match.group(1) == TRACE  # the same trace, not sampled
    assert upstream.record.last_headers["traceparent"].endswith("-00")
    assert rec.finished() == []  # the caller chose not to sample: no span, no attempt span


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_traceparent_starts_a_new_trace(
    value: str, upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    rec = recorded(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    headers = {"traceparent": value, "tracestate": "congo=t61rcWkgMzE"}
    assert call(rec.server.url, rec.server.api_key, headers) == 200
    match = TRACEPARENT.fullmatch(upstream.record.last_headers.get("traceparent", ""))
    assert match is not None and match.group(1) not in (TRACE, TRACE.upper(), "0" * 32)
    assert "tracestate" not in upstream.record.last_headers  # it belonged to the bad parent
    server = next(s for s in rec.finished() if s.kind is SpanKind.SERVER)
    assert server.parent is None
    assert f"{server.context.trace_id:032x}" == match.group(1)


def test_retries_and_fallbacks_are_separate_attempt_spans(
    make_settings: MakeSettings, recorded: Record
) -> None:
    with (
        FakeUpstream(Behaviour(failure_rate=1.0, fail_status=503)) as broken,
        FakeUpstream(Behaviour()) as healthy,
    ):
        settings = make_settings(
            [
                {"name": "m", "base_url": broken.base_url, "id": "p", "fallbacks": ["b"]},
                {"name": "b", "base_url": healthy.base_url, "id": "f"},
            ],
            router={"max_retries": 1},
        )
        rec = recorded(settings)
        assert call(rec.server.url, rec.server.api_key, {}) == 200
    spans = rec.finished()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    attempts = sorted(
        (s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.attributes[sc.ATTEMPT]
    )
    seen = [
        (s.name, s.attributes[sc.DEPLOYMENT], s.attributes.get(sc.ERROR_TYPE)) for s in attempts
    ]
    assert seen == [("chat m", "p", "503"), ("chat m", "p", "503"), ("chat b", "f", None)]
    assert {s.context.trace_id for s in attempts} == {server.context.trace_id}
    exposition = rec.telemetry.exposition().decode()
    assert 'flightdeck_retries_total{model_group="m"} 1.0' in exposition
    assert 'flightdeck_fallbacks_total{fallback="b",model_group="m"} 1.0' in exposition


def test_the_usage_ledger_records_the_requests_trace_id(
    upstream: FakeUpstream, make_settings: MakeSettings, recorded: Record
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}], ledger={"flush_interval_seconds": 0.05}
    )
    rec = recorded(settings)
    assert call(rec.server.url, rec.server.api_key, {"traceparent": f"00-{TRACE}-{PARENT}-01"})
    auth = {"Authorization": f"Bearer {rec.server.api_key}"}
    for _ in range(100):  # the ledger writes off the request path
        _, _, slow = http("GET", rec.server.url + "/admin/console/slow?range=15m", None, auth)
        if slow["data"]:
            break
        time.sleep(0.05)
    assert [row["trace_id"] for row in slow["data"]] == [TRACE]
