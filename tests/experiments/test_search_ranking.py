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
