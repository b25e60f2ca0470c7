"""The operator's console (/console) in real Chromium, after a mixed workload of two tenants:
chat and streams, upstream errors that open a circuit, and limiter rejections."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from flightdeck.core.settings import Settings
from flightdeck.testing import Behaviour, FakeUpstream
from flightdeck.testing.server import ServerThread
from tests.conftest import http

TRACE_URL = "https://traces.example/trace/{trace_id}"


@pytest.fixture
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    with (
        FakeUpstream(Behaviour(latency=0.02, chunk_delay=0.01)) as fast,
        FakeUpstream(Behaviour(latency=0.12, chunk_delay=0.03)) as slow,
        FakeUpstream(Behaviour(failure_rate=1.0, fail_status=503)) as broken,
    ):
        yield {"fast": fast, "slow": slow, "broken": broken}


@pytest.fixture
def world(
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], ServerThread],
    upstreams: dict[str, FakeUpstream],
) -> dict[str, Any]:
    """A server with tenants acme and globex and their keys; no traffic yet."""
    settings = make_settings(
        [
            {"name": "gpt-4o", "base_url": upstreams["fast"].base_url, "id": "gpt-4o-east"},
            {"name": "llama", "base_url": upstreams["slow"].base_url, "id": "llama-vllm"},
            {"name": "flaky", "base_url": upstreams["broken"].base_url, "id": "flaky-1"},
        ],
        router={"max_retries": 0},
        ledger={"flush_interval_seconds": 0.05},
        limits={
            "prices": {
                "gpt-4o": {"input": 2.5, "output": 10.0},
                "llama": {"input": 0.6, "output": 0.6},
            }
        },
        console={"trace_url": TRACE_URL, "refresh_seconds": 30},
        telemetry={"tracing": True},  # trace ids in the ledger; no exporter: nothing leaves
    )
    server = serve(settings)
    keys = {"platform": server.api_key}
    for tenant in ("acme", "globex"):
        admin_json(server, "POST", "/admin/tenants", keys["platform"], {"name": tenant})
        for role in ("admin", "member"):
            made = admin_json(
                server,
                "POST",
                "/admin/keys",
                keys["platform"],
                {"name": f"{tenant}-{role}", "tenant": tenant, "role": role},
            )
            keys[f"{tenant}_{role}"] = made["key"]
    admin_json(
        server,
        "PUT",
        "/admin/budgets",
        keys["platform"],
        {"tenant": "globex", "requests_per_minute": 6},
    )
    return {"server": server, "keys": keys}


def admin_json(server: ServerThread, method: str, path: str, key: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    status, _, answer = http(method, server.url + path, data, headers)
    assert status < 300, answer
    return answer


def workload(world: dict[str, Any], rounds: int = 1) -> int:
    """Chat and streams for both tenants, a broken model, a rate limit; returns requests sent."""
    server, keys = world["server"], world["keys"]
    sent = 0
    for tenant, model, n in (("acme", "gpt-4o", 10), ("globex", "llama", 9)):
        client = openai.OpenAI(
            base_url=server.url + "/v1", api_key=keys[f"{tenant}_member"], max_retries=0
        )
        for i in range(n * rounds):
            sent += 1
            messages = [{"role": "user", "content": f"question {i} of {tenant}"}]
            try:
                if i % 3 == 0:
                    stream = client.chat.completions.create(
                        model=model,
                        messages=messages,  # type: ignore[arg-type]
                        stream=True,
                        max_tokens=40,
                    )
                    for _ in stream:
                        pass
                else:
                    client.chat.completions.create(
                        model=model,
                        messages=messages,  # type: ignore[arg-type]
                        max_tokens=40,
                    )
            except openai.RateLimitError:
                pass
        if tenant == "acme":
            for _ in range(3 * rounds):  # a repeated deterministic question: 1 miss, 2 hits
                sent += 1
                client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": "What is an otter?"}],
                    max_tokens=20,
                    temperature=0,
                )
            for _ in range(4 * rounds):
                sent += 1
                with pytest.raises(openai.APIStatusError):
                    client.chat.completions.create(
                        model="flaky",
                        messages=[{"role": "user", "content": "hi"}],
                        max_tokens=5,
                    )
    return sent


def ledger_count(world: dict[str, Any]) -> int:
    """Requests the ledger holds for the last 15 minutes (the platform admin's view)."""
    server = world["server"]
    answer = admin_json(
        server, "GET", "/admin/console/traffic?range=15m", world["keys"]["platform"]
    )
    return int(sum(answer["requests"]))


def wait_for_ledger(world: dict[str, Any], count: int, page: Any = None) -> None:
    for _ in range(200):
        if ledger_count(world) >= count:
            return
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    raise AssertionError(f"the ledger never held {count} requests")


def wait_until(page: Any, expression: str, timeout: int = 30_000) -> None:
    """Polls ``expression`` in the page from here: the page's CSP forbids the string evaluation
    that Playwright's ``wait_for_function`` uses."""
    for _ in range(timeout // 100):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


RENDERED = """() => {
  const c = window.flightdeckConsole;
  const series = (name) => {
    const u = c.charts[name];
    return u.series.slice(1).map((s, i) => ({label: s.label, values: u.data[i + 1]}));
  };
  return {
    updates: c.updates,
    step: c.data.traffic.step,
    requests: series("requests"),
    errors: series("errors"),
    latency: series("latency"),
    ttft: series("ttft"),
    tokens: series("tokens"),
    spend: series("spend"),
    limited: series("limited"),
    cache: c.charts.cache ? series("cache") : [],
    cacheHits: c.data.traffic.cache ? c.data.traffic.cache.hits.reduce((a, b) => a + b, 0) : 0,
  };
}"""


def total(series: list[dict[str, Any]], label: str, scale: float = 1.0) -> float:
    values = next(s["values"] for s in series if s["label"] == label)
    return sum(v * scale for v in values if v is not None)


def test_console_charts_the_workload_and_updates_without_a_reload(
    world: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    sent = workload(world)
    wait_for_ledger(world, sent)
    page = browser.new_page(viewport={"width": 1440, "height": 1700})
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    page.goto(world["server"].url + "/console?refresh=1&range=15m")
    page.fill("#api-key", world["keys"]["platform"])
    page.click("#connect")
    wait_until(page, "window.flightdeckConsole.updates >= 1", timeout=30_000)
    seen = page.evaluate(RENDERED)
    step = seen["step"]
    # every request of the workload is a point on the requests/s chart: rate x bucket width
    assert round(total(seen["requests"], "requests/s", step)) == sent
    assert round(total(seen["requests"], "errors/s", step)) == 4  # the broken model
    assert round(total(seen["limited"], "rejected/s", step)) >= 1  # globex: 6 requests a minute
    assert any(v for v in next(s for s in seen["errors"] if s["label"] == "error rate %")["values"])
    for chart in ("latency", "ttft"):
        p95 = next(s["values"] for s in seen[chart] if s["label"].endswith("p95"))
        assert [v for v in p95 if v is not None], f"{chart} has no p95 points"
    slowest = max(
        v for s in seen["latency"] if s["label"].endswith("p99") for v in s["values"] if v
    )
    assert slowest >= 100  # llama answers after 120 ms
    labels = {s["label"] for s in seen["tokens"]}
    assert {"acme / gpt-4o", "globex / llama"} <= labels
    assert total(seen["spend"], "acme / gpt-4o") > 0
    assert seen["cacheHits"] == 2  # the cache panel: hits from the ledger's cache results
    assert max(v for v in seen["cache"][0]["values"] if v is not None) > 0
    assert page.inner_text("#kpi-cache") != "-"
    circuits = page.inner_text("#circuits")
    assert "flaky-1" in circuits and "open" in circuits and "gpt-4o-east" in circuits
    assert page.locator("#slow tbody tr").count() >= 5
    links = page.eval_on_selector_all("#slow a", "links => links.map(a => [a.textContent, a.href])")
    assert links == [[t, TRACE_URL.format(trace_id=t)] for t, _ in links]
    assert len(links) >= 5, "the slowest requests link to their traces"
    assert page.locator("#tenant option").all_inner_texts()[:1] == ["all tenants"]

    # new traffic shows up on the next poll, without a reload
    page.evaluate("window.notReloaded = true")
    before = page.evaluate("window.flightdeckConsole.updates")
    client = openai.OpenAI(
        base_url=world["server"].url + "/v1", api_key=world["keys"]["acme_member"], max_retries=0
    )
    for i in range(5):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"more {i}"}], max_tokens=5
        )
    wait_for_ledger(world, sent + 5, page)
    wait_until(
        page,
        f"window.flightdeckConsole.updates > {before} && "
        "window.flightdeckConsole.charts.requests.data[1].reduce((a, b) => a + b, 0) * "
        f"window.flightdeckConsole.data.traffic.step >= {sent + 5} - 0.001",
        timeout=30_000,
    )
    assert page.evaluate("window.notReloaded") is True
    assert violations == []

    # one tenant: acme's admin sees acme only
    acme = browser.new_page()
    acme.goto(world["server"].url + "/console?range=15m")
    acme.fill("#api-key", world["keys"]["acme_admin"])
    acme.click("#connect")
    wait_until(acme, "window.flightdeckConsole.updates >= 1", timeout=30_000)
    labels = {s["label"] for s in acme.evaluate(RENDERED)["tokens"]}
    assert "acme / gpt-4o" in labels
    assert all(label.startswith("acme / ") for label in labels), labels
    assert acme.locator("#tenant-label").is_hidden()

    shot = tmp_path / "console.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("FLIGHTDECK_CONSOLE_SCREENSHOT"):
        shutil.copy(shot, target)


def test_console_refuses_a_key_without_the_admin_role(world: dict[str, Any], browser: Any) -> None:
    workload(world)
    page = browser.new_page()
    page.goto(world["server"].url + "/console")
    page.fill("#api-key", world["keys"]["acme_member"])
    page.click("#connect")
    page.wait_for_selector("#refused:not([hidden])", timeout=30_000)
    assert "admin role" in page.inner_text("#refused")
    assert page.locator("#dashboard").is_hidden()
    assert page.evaluate("Object.keys(window.flightdeckConsole.charts).length") == 0
    assert "acme" not in page.content() and "gpt-4o" not in page.content()
    page.fill("#api-key", "fd-" + "x" * 43)
    page.click("#connect")
    wait_until(page, "document.querySelector('#refused').textContent.includes('API key')")


def test_console_page_answers_with_security_headers_and_no_data(world: dict[str, Any]) -> None:
    url, keys = world["server"].url, world["keys"]
    workload(world)
    status, headers, body = raw_get(url + "/console")
    assert status == 200 and b'<script src="/console/static/console.js"' in body
    assert b"acme" not in body and b"gpt-4o" not in body  # the shell carries no data
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    for name, code in (("acme_member", 403), ("globex_member", 403), ("acme_admin", 200)):
        status, headers, body = raw_get(url + "/console", bearer(keys[name]))
        assert status == code, name
        assert headers["x-frame-options"] == "DENY"
        if code == 403:
            assert json.loads(body)["error"]["code"] == "role_forbidden"
    status, _, body = raw_get(url + "/console", bearer("fd-nope"))
    assert status == 401 and json.loads(body)["error"]["type"]
    status, headers, _ = raw_get(url + "/console/static/vendor/uPlot.iife.min.js")
    assert status == 200 and headers["x-content-type-options"] == "nosniff"
    status, _, _ = raw_get(url + "/admin/console/traffic")
    assert status == 401


def raw_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, got, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, got, body = err.code, dict(err.headers), err.read()
    return status, {k.lower(): v for k, v in got.items()}, body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_inline_script_or_style_in_the_page() -> None:
    page = Path(__file__).parents[2] / "src/flightdeck/web/console/index.html"
    text = page.read_text()
    assert "<script>" not in text and "style=" not in text and "<style" not in text
