"""A prompt-version experiment, end to end through ``/v1/assistant/chat``: the variant picks the
prompt template, the reply (JSON and event stream) carries ``x-flightdeck-experiment``, each
unit is exposed once, feedback on the reply's ``response_id`` counts, and the results report
both arms."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from typing import Any

import pytest

from flightdeck.testing.server import ServerThread
from tests.assistant.conftest import EXTRACTIVE, OTTERS
from tests.conftest import MakeSettings, http
from tests.experiments.test_end_to_end import admin, wait_for_units

VERSIONS = {"v1": "grounded-v1", "v2": "grounded-v2"}
EXPERIMENT = {
    "key": "grounded-prompt",
    "unit": "request",
    "target": {"kind": "prompt_version", "name": "chat"},
    "variants": [{"name": name, "value": version} for name, version in VERSIONS.items()],
    "metrics": ["thumbs"],
}
CHAT = {
    "model": "local/extractive",
    "question": "What do sea otters use as tools?",
    "pages": [{"url": "https://example.com/otters", "html": OTTERS}],
    "stream": False,
}


@pytest.fixture
def server(make_settings: MakeSettings, serve: Any) -> ServerThread:
    settings = make_settings(
        [EXTRACTIVE],
        assistant={"embeddings": False},
        ledger={"flush_interval_seconds": 0.05},
    )
    started: ServerThread = serve(settings)
    return started


def chat(server: ServerThread, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(
        server.url + "/v1/assistant/chat",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"authorization": f"Bearer {server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return {k.lower(): v for k, v in response.headers.items()}, response.read()


def feedback(server: ServerThread, response_id: str, thumbs: str) -> None:
    status, _, body = http(
        "POST",
        f"{server.url}/v1/feedback",
        json.dumps({"response_id": response_id, "thumbs": thumbs}).encode(),
        {"authorization": f"Bearer {server.api_key}"},
    )
    assert status == 201, body


def test_prompt_version_experiment_through_the_assistant(server: ServerThread) -> None:
    status, _, created = admin(server, "POST", "/experiments", EXPERIMENT)
    assert status == 201, created
    assert admin(server, "POST", f"/experiments/{created['id']}/start")[0] == 200

    served: Counter[str] = Counter()
    for _ in range(40):
        headers, raw = chat(server, CHAT)
        reply = json.loads(raw)
        key, variant = headers["x-flightdeck-experiment"].split("=")
        assert key == "grounded-prompt"
        assert reply["prompt_version"] == VERSIONS[variant]
        assert reply["response_id"]
        served[variant] += 1
        feedback(server, reply["response_id"], "up" if variant == "v2" else "down")
    assert served["v1"] > 0 and served["v2"] > 0  # both arms reached (unit: the request)

    # The event stream carries the header too, and its status event names the prompt version.
    headers, raw = chat(server, {**CHAT, "stream": True})
    key, variant = headers["x-flightdeck-experiment"].split("=")
    events = [
        (dict(line.split(": ", 1) for line in block.splitlines()))
        for block in raw.decode().split("\n\n")
        if block.strip()
    ]
    by_name = {e["event"]: json.loads(e["data"]) for e in events}
    assert key == "grounded-prompt"
    assert by_name["status"]["prompt_version"] == VERSIONS[variant]
    assert by_name["done"]["response_id"]
    served[variant] += 1

    results = wait_for_units(server, created["id"], 41)
    assert results["units"] == dict(served)  # one exposure per unit (a request each)
    metrics = {m["name"]: m for m in results["metrics"]}
    thumbs = metrics["thumbs"]
    assert thumbs["comparisons"][0]["variant"] == "v2"
    assert thumbs["comparisons"][0]["absolute"] == pytest.approx(1.0)  # v2 all up, v1 all down

    # A request naming its prompt version is outside the experiment.
    headers, raw = chat(server, {**CHAT, "prompt": "grounded-v1"})
    assert "x-flightdeck-experiment" not in headers
    assert json.loads(raw)["prompt_version"] == "grounded-v1"

    assert admin(server, "POST", f"/experiments/{created['id']}/stop")[0] == 200
    headers, _ = chat(server, CHAT)
    assert "x-flightdeck-experiment" not in headers


def test_prompt_version_definitions_are_checked(server: ServerThread) -> None:
    unknown = {
        **EXPERIMENT,
        "variants": [{"name": "a", "value": "grounded-v1"}, {"name": "b", "value": "nope-v9"}],
    }
    status, _, body = admin(server, "POST", "/experiments", unknown)
    assert status == 400 and "prompt version 'nope-v9' does not exist" in body["error"]["message"]
    bad_mode = {**EXPERIMENT, "target": {"kind": "prompt_version", "name": "poems"}}
    status, _, body = admin(server, "POST", "/experiments", bad_mode)
    assert status == 400 and "'poems' is not an assistant mode" in body["error"]["message"]
