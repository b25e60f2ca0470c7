"""A ranking experiment on ``POST /v1/search``: the variant's ranking configuration changes the
hits, the response carries ``x-flightdeck-experiment``, each unit is exposed once, and a bad
ranking key is a 400 naming it."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from tests.search.conftest import World, built_stores, media_root, world  # noqa: F401

EXPERIMENT: dict[str, Any] = {
    "key": "strict-ranking",
    "unit": "request",
    "target": {"kind": "ranking", "name": "photos"},
    "variants": [
        {"name": "control", "value": {}},
        {"name": "loose", "value": {"min_score": -1, "signals": ["text"]}},
    ],
}


def test_ranking_experiment_on_search(world: World) -> None:  # noqa: F811
    status, created = world.call("POST", "/admin/experiments", "acme_admin", EXPERIMENT)
    assert status == 201, created
    status, _ = world.call("POST", f"/admin/experiments/{created['id']}/start", "acme_admin")
    assert status == 200

    served: Counter[str] = Counter()
    for _ in range(30):
        body = {"collection": "photos", "query": "a fast automobile", "k": 100}
        status, headers, raw = world.raw("POST", "/v1/search", "acme_member", body)
        assert status == 200, raw
        key, variant = headers["x-flightdeck-experiment"].split("=")
        assert key == "strict-ranking"
        hits = json.loads(raw)["data"]
        if variant == "loose":
            assert len(hits) == 5  # every photo, however unrelated
        else:
            assert 1 <= len(hits) < 5  # the deployment's floor (0.3) drops the unrelated ones
            assert min(h["score"] for h in hits) >= 0.3
        served[variant] += 1
    assert served["control"] > 0 and served["loose"] > 0

    deadline = time.monotonic() + 10
    while True:
        status, results = world.call(
            "GET", f"/admin/experiments/{created['id']}/results", "acme_member"
        )
        assert status == 200, results
        if results["units"] == dict(served) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert results["units"] == dict(served)  # one exposure per unit (a request each)

    # globex's searches are not in acme's experiment
    status, headers, _ = world.raw(
        "POST", "/v1/search", "globex_admin", {"collection": "photos", "query": "a car"}
    )
    assert status == 200 and "x-flightdeck-experiment" not in headers


def test_ranking_values_are_checked_at_creation(world: World) -> None:  # noqa: F811
    bad = {
        **EXPERIMENT,
        "variants": [{"name": "a", "value": {}}, {"name": "b", "value": {"nprobe": 4}}],
    }
    status, body = world.call("POST", "/admin/experiments", "acme_admin", bad)
    assert status == 400 and "unknown ranking key 'nprobe'" in body["error"]["message"], body
    wrong = {
        **EXPERIMENT,
        "variants": [{"name": "a", "value": {}}, {"name": "b", "value": {"rrf_k": 0}}],
    }
    status, body = world.call("POST", "/admin/experiments", "acme_admin", wrong)
    assert status == 400 and "'rrf_k'" in body["error"]["message"], body


WEIGHTED: dict[str, Any] = {
    "key": "loose-ranking",
    "unit": "request",
    "target": {"kind": "ranking", "name": "photos"},
    "variants": [
        {"name": "control", "weight": 0.25, "value": {}},
        {"name": "loose", "weight": 0.75, "value": {"min_score": -1, "signals": ["text"]}},
    ],
    "metrics": ["click"],
}


def test_ranking_experiment_records_outcomes_and_feedback_and_reports_them(
    world: World,  # noqa: F811
) -> None:
    status, created = world.call("POST", "/admin/experiments", "acme_admin", WEIGHTED)
    assert status == 201, created
    assert world.call("POST", f"/admin/experiments/{created['id']}/start", "acme_admin")[0] == 200

    served: Counter[str] = Counter()
    ids: set[str] = set()
    for i in range(200):
        body = {"collection": "photos", "query": "a fast automobile", "k": 100}
        status, headers, raw = world.raw("POST", "/v1/search", "acme_member", body)
        assert status == 200, raw
        variant = headers["x-flightdeck-experiment"].split("=")[1]
        answer = json.loads(raw)
        assert answer["id"].startswith("search-") and len(answer["id"]) == 39
        ids.add(answer["id"])
        served[variant] += 1
        click = 1 if variant == "loose" or i % 2 else 0  # the loose ranking gets more clicks
        feedback = {"response_id": answer["id"], "name": "click", "value": click}
        status, recorded = world.call("POST", "/v1/feedback", "acme_member", feedback)
        assert status == 201, recorded
    assert len(ids) == 200  # every search response has its own id
    assert 0.15 < served["control"] / 200 < 0.35  # weights 0.25 / 0.75

    deadline = time.monotonic() + 30
    while True:
        ref = f"/admin/experiments/{created['id']}/results"
        status, results = world.call("GET", ref, "acme_member")
        assert status == 200, results
        if results["units"] == dict(served) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert results["units"] == dict(served)  # exposures, written by the ledger
    assert results["sample_ratio"]["mismatch"] is False
    metrics = {m["name"]: m for m in results["metrics"]}
    assert list(metrics) == ["latency_ms", "errors", "results", "zero_results", "click"]
    means = {
        name: {v["variant"]: v["value"] for v in metrics[name]["variants"]} for name in metrics
    }
    assert all(m > 0 for m in means["latency_ms"].values())  # milliseconds per search
    assert means["errors"] == {"control": 0, "loose": 0}
    assert means["results"]["loose"] == 5  # every photo
    assert 1 <= means["results"]["control"] < 5  # the deployment's floor drops some
    assert means["zero_results"] == {"control": 0, "loose": 0}
    assert means["click"]["loose"] == 1 and 0.2 < means["click"]["control"] < 0.8
    units = {v["variant"]: v["units"] for v in metrics["click"]["variants"]}
    assert units == dict(served)  # feedback joined to each search's unit and variant
    assert metrics["results"]["comparisons"][0]["absolute"] > 0
