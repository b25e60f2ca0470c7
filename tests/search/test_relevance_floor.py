"""The relevance floor of ``POST /v1/search``: nonsense finds nothing and says why, real queries
still find their photos, and a request's ``min_score`` overrides ``[search] min_score``."""

from __future__ import annotations

from typing import Any

import pytest
from bench.search.relevance_floor import NONSENSE, measure

from flightdeck.core.settings import SearchSettings
from tests.search.conftest import PHOTOS, World

DEFAULT_FLOOR = SearchSettings().min_score


@pytest.mark.parametrize("query", ["qwzx blorf", "asdfghjkl", "xyzzy plugh", "grmbl fnord"])
def test_nonsense_finds_nothing_and_says_why(world: World, query: str) -> None:
    status, body = world.search("acme_member", "photos", query, k=24)
    assert status == 200, body
    assert body["data"] == []
    assert body["min_score"] == DEFAULT_FLOOR
    assert body["no_match_reason"].startswith("no good match")


@pytest.mark.parametrize(
    ("query", "seed"),
    [
        ("a kitten napping on a couch", 3),
        ("cat", 3),
        ("race car", 1),
        ("soup", 2),
        ("mountain landscape in winter", 4),
        ("boat at dusk", 5),
        ("sailing", 5),
    ],
)
def test_real_queries_still_find_their_photo_first(world: World, query: str, seed: int) -> None:
    status, body = world.search("acme_member", "photos", query, k=24)
    assert status == 200, body
    assert body["data"][0]["caption"] == PHOTOS[seed][0]
    assert body["no_match_reason"] is None
    assert all(hit["score"] >= DEFAULT_FLOOR for hit in body["data"])
    assert len(body["data"]) < len(PHOTOS)  # not every photo is a match for every query


def test_request_min_score_overrides_the_deployment_floor(world: World) -> None:
    _, everything = world.search("acme_member", "photos", "qwzx blorf", k=24, min_score=-1)
    assert len(everything["data"]) == len(PHOTOS) and everything["min_score"] == -1
    _, strict = world.search("acme_member", "photos", "a kitten napping on a couch", min_score=0.99)
    assert strict["data"] == [] and "0.99" in strict["no_match_reason"]


def test_a_filter_that_excludes_everything_is_named_as_the_reason(world: World) -> None:
    _, body = world.search(
        "acme_member", "photos", "cat", filter={"metadata": {"topic": "nothing"}}
    )
    assert body["data"] == [] and body["no_match_reason"] == "no document matches the filter"


@pytest.mark.parametrize("bad", ["0.3", 2, -1.5, True, [0.1]])
def test_bad_min_score_is_a_400_naming_the_field(world: World, bad: Any) -> None:
    status, body = world.search("acme_member", "photos", "cat", min_score=bad)
    assert status == 400 and body["error"]["param"] == "min_score"


def test_the_default_floor_separates_the_measured_queries() -> None:
    """The measurement behind the default: every nonsense query's best score lies below the
    floor, and all real queries but the generic one-word ones lie above it."""
    relevant, nonsense = measure()
    assert max(score for _, score in nonsense) < DEFAULT_FLOOR
    above = [query for query, score in relevant if score >= DEFAULT_FLOOR]
    assert len(above) >= len(relevant) - 1 and len(nonsense) == len(NONSENSE)
