"""An experiment on a model group, end to end: defined through the admin API, traffic through
the official openai SDK split by its weights, exposures and usage in the ledger, feedback, and
the results."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import openai
import pytest

from flightdeck.auth.keys import Role
from flightdeck.testing import FakeUpstream
from flightdeck.testing.server import ServerThread, create_key
from tests.conftest import MakeSettings, http

EXPERIMENT = {
    "key": "bigger-model",
    "unit": "user",
    "target": {"kind": "model_group", "name": "chat"},
    "variants": [
        {"name": "control", "weight": 0.3, "value": "chat-small"},
        {"name": "bigger", "weight": 0.7, "value": "chat-big"},
    ],
    "metrics": ["thumbs"],
}


@pytest.fixture
def server(upstream: FakeUpstream, make_settings: MakeSettings, serve: Any) -> ServerThread:
    settings = make_settings(
        [
            {"name": group, "base_url": upstream.base_url, "model": model}
            for group, model in (
                ("chat", "m-chat"),
                ("chat-small", "m-small"),
                ("chat-big", "m-big"),
            )
        ],
        ledger={"flush_interval_seconds": 0.05},
    )
    started: ServerThread = serve(settings)
    return started


def admin(server: ServerThread, method: str, path: str, body: Any = None, key: str = "") -> Any:
    headers = {
        "authorization": f"Bearer {key or server.api_key}",
        "content-type": "application/json",
    }
    data = json.dumps(body).encode() if body is not None else None
    return http(method, f"{server.url}/admin{path}", data, headers)


def test_model_group_experiment_splits_traffic_records_outcomes_and_reports(
    server: ServerThread,
) -> None:
    status, _, created = admin(server, "POST", "/experiments", EXPERIMENT)
    assert status == 201 and created["status"] == "draft", created
    assert admin(server, "POST", f"/experiments/{created['id']}/start")[0] == 200

    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.api_key, max_retries=0)
    served: Counter[str] = Counter()
    for i in range(240):
        raw = client.chat.completions.with_raw_response.create(
            model="chat", messages=[{"role": "user", "content": "hi"}], user=f"user-{i % 200}"
        )
        key, variant = raw.headers["x-flightdeck-experiment"].split("=")
        reply = raw.parse()
        assert key == "bigger-model"
        assert reply.model == {"control": "m-small", "bigger": "m-big"}[variant]
        if i < 200:
            served[variant] += 1
            thumbs = "up" if variant == "bigger" or i % 2 else "down"
            status, _, _ = http(
                "POST",
                f"{server.url}/v1/feedback",
                json.dumps({"response_id": reply.id, "thumbs": thumbs}).encode(),
                {"authorization": f"Bearer {server.api_key}"},
            )
            assert status == 201
    assert served["control"] + served["bigger"] == 200
    assert 0.2 < served["control"] / 200 < 0.4  # weights 0.3 / 0.7

    results = wait_for_units(server, created["id"], 200)
    assert results["units"] == {"control": served["control"], "bigger": served["bigger"]}
    assert results["sample_ratio"]["mismatch"] is False
    metrics = {m["name"]: m for m in results["metrics"]}
    assert {"latency_ms", "errors", "output_tokens", "cost", "thumbs"} <= set(metrics)
    thumbs = metrics["thumbs"]["comparisons"][0]
    assert thumbs["variant"] == "bigger" and thumbs["absolute"] > 0.3
    assert thumbs["absolute_ci"][0] > 0 and thumbs["sequential_ci"][0] < thumbs["absolute_ci"][0]

    assert admin(server, "POST", f"/experiments/{created['id']}/stop")[0] == 200
    after = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hi"}], user="user-1"
    )
    assert "x-flightdeck-experiment" not in after.headers and after.parse().model == "m-chat"


def wait_for_units(server: ServerThread, ref: int, units: int) -> Any:
    deadline = time.monotonic() + 30
    while True:
        status, _, results = admin(server, "GET", f"/experiments/{ref}/results")
        assert status == 200, results
        if sum(results["units"].values()) >= units or time.monotonic() > deadline:
            return results
        time.sleep(0.2)


def test_definitions_are_checked_and_only_admins_change_them(server: ServerThread) -> None:
    unknown = {
        **EXPERIMENT,
        "variants": [{"name": "a", "value": "chat"}, {"name": "b", "value": "nope"}],
    }
    status, _, body = admin(server, "POST", "/experiments", unknown)
    assert status == 400 and "model group 'nope' is not configured" in body["error"]["message"]
    bad_weights = {**EXPERIMENT, "variants": [{**v, "weight": 0.9} for v in EXPERIMENT["variants"]]}
    status, _, body = admin(server, "POST", "/experiments", bad_weights)
    assert status == 400 and "weights must sum to 1" in body["error"]["message"]

    viewer = asyncio.run(create_key(server.settings, Role.VIEWER))
    assert admin(server, "POST", "/experiments", EXPERIMENT, key=viewer)[0] == 403
    assert admin(server, "POST", "/experiments", EXPERIMENT)[0] == 201
    status, _, listed = admin(server, "GET", "/experiments", key=viewer)
    assert status == 200 and [e["key"] for e in listed] == ["bigger-model"]
    assert admin(server, "POST", "/experiments", EXPERIMENT)[0] == 400  # key taken
    assert admin(server, "POST", "/experiments/bigger-model/stop")[0] == 400  # a draft
    assert admin(server, "GET", "/experiments/404/results")[0] == 404

    other = asyncio.run(create_key(server.settings, Role.ADMIN, tenant="other"))
    assert admin(server, "GET", "/experiments/bigger-model", key=other)[0] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"thumbs": "up"}, "response_id"),
        ({"response_id": "r1", "thumbs": "sideways"}, "thumbs"),
        ({"response_id": "r1", "rating": "five"}, "rating"),
        ({"response_id": "r1", "name": "bad name", "value": 1}, "name"),
        ({"response_id": "r1"}, None),
    ],
)
def test_bad_feedback_is_a_400_naming_the_field(
    server: ServerThread, body: dict[str, Any], field: str | None
) -> None:
    status, _, error = http(
        "POST",
        f"{server.url}/v1/feedback",
        json.dumps(body).encode(),
        {"authorization": f"Bearer {server.api_key}"},
    )
    assert status == 400 and error["error"]["param"] == field


def test_cli_creates_lists_starts_stops_and_reports(tmp_path: Any) -> None:
    from tests.cli.test_cli import flightdeck

    definition = tmp_path / "exp.json"
    variants = [{"name": "control", "value": {"temperature": 0}}, {"name": "b", "value": {}}]
    target = {"kind": "parameters", "name": "chat"}
    definition.write_text(json.dumps({**EXPERIMENT, "target": target, "variants": variants}))
    created = flightdeck("experiments", "create", str(definition), cwd=tmp_path)
    assert created.returncode == 0 and "created experiment bigger-model (id 1)" in created.stdout, (
        created.stderr
    )
    assert flightdeck("experiments", "start", "bigger-model", cwd=tmp_path).returncode == 0
    listed = flightdeck("experiments", "list", cwd=tmp_path)
    assert "bigger-model" in listed.stdout and "running" in listed.stdout
    report = flightdeck("experiments", "results", "1", "--plot", "r.png", cwd=tmp_path)
    assert report.returncode == 0 and "units {'control': 0, 'b': 0}" in report.stdout, report.stderr
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    again = flightdeck("experiments", "start", "1", cwd=tmp_path)
    assert again.returncode == 2 and "is running; only a draft one can start" in again.stderr
