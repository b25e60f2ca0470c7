"""The console's experiments view in real Chromium: after real traffic through a model-group
experiment (the openai SDK, two upstreams of different speed, thumbs feedback), the page charts
each metric's difference from the control over time with its always-valid band, from the same
numbers as ``GET /admin/experiments/{id}/results``; tenants see only their own experiments and
only admins get the data."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import openai

from tests.conftest import http
from tests.e2e.test_console import admin_json, upstreams, wait_until, world  # noqa: F401

EXPERIMENT = {
    "key": "llama-for-chat",
    "description": "Does the cheaper llama group answer as well as gpt-4o?",
    "unit": "user",
    "target": {"kind": "model_group", "name": "gpt-4o"},
    "variants": [
        {"name": "control", "weight": 0.5, "value": "gpt-4o"},
        {"name": "llama", "weight": 0.5, "value": "llama"},
    ],
    "metrics": ["thumbs"],
}

RENDERED = """() => {
  const c = window.flightdeckConsole;
  const charts = Object.entries(c.charts).filter(([name]) => name.startsWith("exp-"));
  return {
    updates: c.experimentUpdates,
    options: [...document.querySelectorAll("#experiment option")].map((o) => o.textContent),
    charts: Object.fromEntries(charts.map(([name, u]) => [u.looks.name, {
      labels: u.series.map((s) => s.label),
      data: u.data,
      bands: u.bands.map((b) => b.series),
    }])),
  };
}"""


def traffic(world: dict[str, Any], users: int) -> tuple[Counter[str], int]:  # noqa: F811
    """One chat per user through the experiment, thumbs on each: up for gpt-4o, every other
    one for llama. Returns the users per variant and the requests sent."""
    server, keys = world["server"], world["keys"]
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=keys["acme_member"], max_retries=0)
    served: Counter[str] = Counter()
    for i in range(users):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"question {i}"}],
            max_tokens=20,
            user=f"user-{i}",
        )
        variant = raw.headers["x-flightdeck-experiment"].split("=")[1]
        served[variant] += 1
        thumbs = "up" if variant == "control" or i % 2 else "down"
        status, _, _ = http(
            "POST",
            server.url + "/v1/feedback",
            json.dumps({"response_id": raw.parse().id, "thumbs": thumbs}).encode(),
            {"authorization": f"Bearer {keys['acme_member']}"},
        )
        assert status == 201
    return served, users


def wait_for_results(world: dict[str, Any], ref: int, units: int) -> Any:  # noqa: F811
    server, key = world["server"], world["keys"]["acme_admin"]
    deadline = time.monotonic() + 30
    while True:
        results = admin_json(server, "GET", f"/admin/experiments/{ref}/results", key)
        if sum(results["units"].values()) >= units or time.monotonic() > deadline:
            return results
        time.sleep(0.1)


def test_console_charts_an_experiments_metrics_over_time_with_their_bands(
    world: dict[str, Any],  # noqa: F811
    browser: Any,
    tmp_path: Path,
) -> None:
    server, keys = world["server"], world["keys"]
    created = admin_json(server, "POST", "/admin/experiments", keys["acme_admin"], EXPERIMENT)
    admin_json(server, "POST", f"/admin/experiments/{created['id']}/start", keys["acme_admin"])
    served, users = traffic(world, 80)
    results = wait_for_results(world, created["id"], users)
    assert results["units"] == dict(served)
    metrics = {m["name"]: m for m in results["metrics"]}

    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(server.url + "/console?range=15m")
    page.fill("#api-key", keys["acme_admin"])
    page.click("#connect")
    wait_until(page, "window.flightdeckConsole.experimentUpdates >= 1")
    seen = page.evaluate(RENDERED)
    assert seen["options"] == ["llama-for-chat (running, model_group gpt-4o)"]
    assert {"latency_ms", "errors", "output_tokens", "cost", "thumbs"} <= set(seen["charts"])
    for name, chart in seen["charts"].items():
        x, relative, seq_high, seq_low, high, low = chart["data"][:6]
        assert chart["labels"][1:4] == [
            "llama vs control",
            "llama always-valid high",
            "llama always-valid low",
        ], name
        assert chart["bands"] == [[2, 3]]  # the always-valid interval is a filled band
        assert len(x) >= 3 and x == sorted(x), name  # looks over time, in order
        assert x[-1] - x[0] < 600  # POSIX seconds of this test's traffic
        for point in zip(relative, seq_low, seq_high, low, high, strict=True):
            if point[0] is not None:  # the always-valid interval holds the fixed one
                r, s_lo, s_hi, f_lo, f_hi = point
                assert s_lo <= f_lo <= r <= f_hi <= s_hi, (name, point)
        # the last look holds every unit: the chart ends where the admin API's results are
        now = metrics[name]["comparisons"][0]
        if now["relative"] is None:  # none in the control (errors, cache hits): no ratio
            assert relative[-1] is None and name in ("errors", "cache_hits"), name
            continue
        assert abs(relative[-1] - 100 * now["relative"]) < 1e-6, name
        assert abs(seq_low[-1] - 100 * now["sequential_relative_ci"][0]) < 1e-6, name
    latency = seen["charts"]["latency_ms"]["data"][1]
    assert latency[-1] > 100  # llama answers after 120 ms, gpt-4o after 20 ms: +several 100%
    thumbs = seen["charts"]["thumbs"]["data"][1]
    assert -75 < thumbs[-1] < -25  # half the thumbs up of the control

    table = page.inner_text("#exp-units")
    for variant, n in served.items():
        assert f"{variant}\t0.50\t{n}\t" in table, table
    assert "sample ratio ok" in page.inner_text("#exp-srm")
    rows = page.locator("#table-exp-0 tbody tr").all_inner_texts()
    assert rows[0].startswith("control\t") and "control" in rows[0].split("\t")[3]
    assert rows[1].startswith(f"llama\t{served['llama']}\t")
    assert page.locator("#experiments-section td.significant").count() >= 1  # latency

    shot = tmp_path / "console-experiments.png"
    page.locator("#experiments-section").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("FLIGHTDECK_CONSOLE_EXPERIMENTS_SCREENSHOT"):
        shutil.copy(shot, target)

    # globex's admin sees none of acme's experiments
    globex = browser.new_page()
    globex.goto(server.url + "/console?range=15m")
    globex.fill("#api-key", keys["globex_admin"])
    globex.click("#connect")
    wait_until(globex, "window.flightdeckConsole.updates >= 1")
    assert globex.locator("#exp-none").is_visible()
    assert globex.evaluate("window.flightdeckConsole.data.experiments") == []
    assert "llama-for-chat" not in globex.content()


def test_experiment_view_is_for_admins_of_the_tenant(world: dict[str, Any]) -> None:  # noqa: F811
    server, keys = world["server"], world["keys"]
    created = admin_json(server, "POST", "/admin/experiments", keys["acme_admin"], EXPERIMENT)
    ref = f"/admin/console/experiments/{created['id']}"
    for caller, path, status in [
        ("acme_member", "/admin/console/experiments", 403),
        ("acme_member", ref, 403),
        ("globex_admin", ref, 404),
        ("globex_admin", ref + "?tenant=acme", 403),
        ("globex_admin", "/admin/console/experiments?tenant=acme", 403),
        ("acme_admin", ref, 200),
        ("platform", ref + "?tenant=acme", 200),
    ]:
        got, _, body = http("GET", server.url + path, None, bearer(keys[caller]))
        assert got == status, (caller, path, body)
    _, _, listed = http(
        "GET", server.url + "/admin/console/experiments", None, bearer(keys["platform"])
    )
    assert [(e["tenant"], e["key"]) for e in listed["data"]] == [("acme", "llama-for-chat")]
    _, _, view = http("GET", server.url + ref, None, bearer(keys["acme_admin"]))
    assert view["experiment"]["key"] == "llama-for-chat" and view["over_time"] == []
    assert view["results"]["units"] == {"control": 0, "llama": 0}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
