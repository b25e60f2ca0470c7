"""``/metrics``: platform admins only on the main port, or a separate keyless listener; the
request, limiter and circuit series after traffic."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import openai
import pytest

from flightdeck.auth.keys import Role
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import create_key, free_port
from tests.conftest import MakeSettings


def get(url: str, key: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_need_a_platform_admin_and_count_requests(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url, "id": "d1"}],
        limits={"default_key": {"requests_per_minute": 2}},
    )
    server = serve(settings)
    member = asyncio.run(create_key(settings, Role.MEMBER))
    other_admin = asyncio.run(create_key(settings, Role.ADMIN, tenant="globex"))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert get(server.url + "/metrics")[0] == 401
    assert get(server.url + "/metrics", member)[0] == 403
    assert get(server.url + "/metrics", other_admin)[0] == 403
    status, text = get(server.url + "/metrics", server.api_key)
    assert status == 200
    assert (
        'flightdeck_requests_total{cache="bypass",deployment="d1",model_group="m",status="200"} 2.0'
        in text
    )
    assert 'flightdeck_limiter_rejections_total{reason="requests",scope_kind="key"} 1.0' in text
    assert 'flightdeck_circuit_state{deployment="d1",state="closed"} 1.0' in text
    assert (
        'flightdeck_upstream_attempts_total{deployment="d1",model_group="m",outcome="ok"} 2.0'
        in text
    )
    assert 'http_server_request_duration_seconds_bucket{http_request_method="POST"' in text
    assert "flightdeck_ledger_spool_records " in text
    assert "default" not in text  # no tenant label unless telemetry.tenant_label


def test_a_separate_listener_serves_metrics_without_a_key(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    port = free_port()
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        telemetry={"metrics_address": f"127.0.0.1:{port}"},
    )
    server = serve(settings)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    status, text = get(f"http://127.0.0.1:{port}/metrics")  # from the listener's thread
    assert status == 200 and "flightdeck_circuit_state" in text
    # the request's queued metrics ran (on the event loop) before this scrape read them
    assert 'model_group="m",outcome="ok"} 1.0' in text
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "y"}])
    name = "flightdeck_upstream_attempts_total"
    status, text = get(f"http://127.0.0.1:{port}/metrics?name[]={name}")  # a filtered scrape
    assert status == 200 and 'model_group="m",outcome="ok"} 2.0' in text
    assert "flightdeck_circuit_state" not in text
    assert get(server.url + "/metrics", server.api_key)[0] == 404  # not on the main port


def test_metrics_off_serves_nothing(
    upstream: FakeUpstream, make_settings: MakeSettings, serve
) -> None:
    settings = make_settings(
        [{"name": "m", "base_url": upstream.base_url}],
        telemetry={"metrics": False, "logs": False},
    )
    server = serve(settings)
    assert get(server.url + "/metrics", server.api_key)[0] == 404
    assert server.app.state.telemetry.attempts is None


def test_cache_results_reach_the_counters_and_the_log_line(
    upstream: FakeUpstream, make_settings: MakeSettings, serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(make_settings([{"name": "m", "base_url": upstream.base_url, "id": "d1"}]))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    for _ in range(2):  # temperature 0: cacheable; the second is a hit
        client.chat.completions.create(
            model="m", temperature=0, messages=[{"role": "user", "content": "same"}]
        )
    status, text = get(server.url + "/metrics", server.api_key)
    assert status == 200
    assert 'flightdeck_cache_results_total{result="miss"} 1.0' in text
    assert 'flightdeck_cache_results_total{result="hit"} 1.0' in text
    assert (
        'flightdeck_requests_total{cache="hit",deployment="",model_group="m",status="200"} 1.0'
        in text
    )
    # A request's line is queued as it ends (telemetry/batch.py), which may be just after the
    # client has its answer: it appears within the queue's 0.25 s.
    deadline = time.monotonic() + 10
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "flightdeck.requests"]
        if any('"cache":"hit"' in line for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert any('"cache":"hit"' in line for line in lines)
