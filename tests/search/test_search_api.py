"""``POST /v1/search`` and thumbnails over real HTTP, on stores the media pipeline wrote.

These tests rank and hydrate every photo, so they turn the relevance floor off
(``min_score=-1``); tests/search/test_relevance_floor.py tests the floor."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.search.conftest import PHOTOS, World, ingest_photos


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a fast automobile", PHOTOS[1][0]),
        ("something warm to eat", PHOTOS[2][0]),
        ("a kitten napping on a couch", PHOTOS[3][0]),
        ("alpine peaks covered in snow", PHOTOS[4][0]),
    ],
)
def test_the_caption_closest_in_meaning_ranks_first(
    world: World, query: str, expected: str
) -> None:
    status, body = world.search("acme_member", "photos", query, min_score=-1)
    assert status == 200, body
    assert body["data"][0]["caption"] == expected
    scores = [hit["score"] for hit in body["data"]]
    assert scores == sorted(scores, reverse=True)
    assert body["data"][0]["score"] > body["data"][1]["score"] + 0.1


def test_hits_are_hydrated_and_duplicates_linked_not_indexed(world: World) -> None:
    status, body = world.search("acme_member", "photos", "a fast automobile", k=100, min_score=-1)
    assert status == 200
    assert len(body["data"]) == len(PHOTOS)  # the duplicate copy is not searchable
    assert body["index"] == {"documents": 5, "indexes": {"text": "flat"}}
    car = body["data"][0]
    assert car["metadata"] == {"topic": "vehicles", "license": "cc0"}
    assert (car["width"], car["height"], car["kind"]) == (320, 240, "image")
    assert car["source"] == "1.jpg"  # a local input is named, its server path is not shown
    assert car["thumbnail_url"] == f"/v1/collections/photos/documents/{car['doc_id']}/thumbnail"
    assert [d["source"] for d in car["duplicates"]] == ["copy.jpg"]
    assert all(hit["duplicates"] == [] for hit in body["data"][1:])


def test_k_limits_the_results(world: World) -> None:
    status, body = world.search("acme_member", "photos", "anything", k=2, min_score=-1)
    assert status == 200 and len(body["data"]) == 2


def test_thumbnail_is_served_with_its_content_type(world: World) -> None:
    _, body = world.search("acme_member", "photos", "soup", min_score=-1)
    url = body["data"][0]["thumbnail_url"]
    status, headers, data = world.raw("GET", url, "acme_member")
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    assert headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and min(image.size) == 256  # keep_ratio thumbnail


def test_unknown_document_thumbnail_is_404(world: World) -> None:
    status, body = world.call(
        "GET", "/v1/collections/photos/documents/nope/thumbnail", "acme_member"
    )
    assert status == 404 and body["error"]["code"] == "document_not_found"


def test_filter_narrows_the_candidates_before_ranking(world: World) -> None:
    status, body = world.search(
        "acme_member",
        "photos",
        "a fast automobile",
        filter={"metadata": {"topic": "food"}},
        min_score=-1,
    )
    assert status == 200
    assert [hit["caption"] for hit in body["data"]] == [PHOTOS[2][0]]
    status, body = world.search(
        "acme_member",
        "photos",
        "a fast automobile",
        filter={"kind": "image", "metadata": {"license": ["cc-by"]}},
        min_score=-1,
    )
    assert [hit["caption"] for hit in body["data"]] == [PHOTOS[5][0], PHOTOS[3][0]]
    status, body = world.search(
        "acme_member", "photos", "car", filter={"kind": "video"}, min_score=-1
    )
    assert status == 200 and body["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "car"}, "collection"),
        ({"collection": "photos"}, "query"),
        ({"collection": "photos", "query": "   "}, "query"),
        ({"collection": "photos", "query": "car", "k": 0}, "k"),
        ({"collection": "photos", "query": "car", "k": 101}, "k"),
        ({"collection": "photos", "query": "car", "k": "3"}, "k"),
        ({"collection": "photos", "query": "car", "filter": "kind=image"}, "filter"),
        ({"collection": "photos", "query": "car", "filter": {"colour": "red"}}, "filter"),
        ({"collection": "photos", "query": "car", "filter": {"metadata": {"a": {}}}}, None),
    ],
)
def test_bad_bodies_are_400_naming_the_parameter(
    world: World, body: dict[str, Any], param: str | None
) -> None:
    status, answer = world.call("POST", "/v1/search", "acme_member", body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert answer["error"]["param"] == param


def test_a_body_that_is_not_json_is_400(world: World) -> None:
    status, answer = world.call("POST", "/v1/search", "acme_member", b"{not json")
    assert status == 400 and "JSON" in answer["error"]["message"]


def test_collections_lists_only_the_callers_tenant(world: World) -> None:
    status, body = world.call("GET", "/v1/collections", "acme_member")
    assert status == 200 and [c["name"] for c in body["data"]] == ["photos"]
    _, body = world.call("GET", "/v1/collections", "globex_admin")
    assert [c["name"] for c in body["data"]] == ["photos", "secrets"]


# -- tenant isolation: every route ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/search", {"collection": "photos", "query": "car"}),
        ("GET", "/v1/collections", None),
        ("GET", "/v1/collections/photos/documents/x/thumbnail", None),
    ],
)
def test_every_route_needs_credentials(world: World, method: str, path: str, body: Any) -> None:
    status, answer = world.call(method, path, None, body)
    assert status == 401 and answer["error"]["type"] == "authentication_error"
    status, _ = world.call(method, path + "?api_key=" + world.keys["acme_member"], None, body)
    assert status == 401


def test_another_tenants_collection_is_not_found(world: World) -> None:
    status, body = world.search("acme_admin", "secrets", "a golden crown", min_score=-1)
    assert status == 404 and body["error"]["code"] == "collection_not_found"
    status, missing = world.search(
        "acme_admin", "no-such-collection", "a golden crown", min_score=-1
    )
    assert (
        status == 404
        and missing["error"]["message"].replace("no-such-collection", "secrets")
        == body["error"]["message"]
    )


def test_the_same_name_in_two_tenants_searches_each_tenants_own_store(world: World) -> None:
    _, acme = world.search("acme_admin", "photos", "a golden crown", k=100, min_score=-1)
    _, globex = world.search("globex_admin", "photos", "a golden crown", k=100, min_score=-1)
    assert {hit["caption"] for hit in acme["data"]} == {c for c, _ in PHOTOS.values()}
    assert globex["data"][0]["caption"] == "a golden crown in a museum vault"
    assert len(globex["data"]) == 2


def test_another_tenants_thumbnail_is_not_found(world: World) -> None:
    _, secrets = world.search("globex_admin", "secrets", "a golden crown", min_score=-1)
    secret_url = secrets["data"][0]["thumbnail_url"]
    assert world.raw("GET", secret_url, "globex_admin")[0] == 200
    status, body = world.call("GET", secret_url, "acme_admin")
    assert status == 404 and body["error"]["code"] == "collection_not_found"
    # acme's own "photos" does not hold globex's documents, whatever the URL says.
    doc_id = secrets["data"][0]["doc_id"]
    path = f"/v1/collections/photos/documents/{doc_id}/thumbnail"
    assert world.call("GET", path, "acme_admin")[0] == 404
    # and globex's "photos" does not hold acme's.
    _, photos = world.search("acme_admin", "photos", "soup", min_score=-1)
    assert world.call("GET", photos["data"][0]["thumbnail_url"], "globex_admin")[0] == 404


def test_a_second_ingest_into_the_store_rebuilds_the_index(world: World) -> None:
    engine = world.server.app.state.search.engine
    query = "a lighthouse on a rocky coast"
    _, before = world.search("acme_member", "photos", query, min_score=-1)
    assert before["data"][0]["caption"] != query
    builds = engine.snapshots.builds
    world.search("acme_member", "photos", query, min_score=-1)
    assert engine.snapshots.builds == builds  # unchanged manifest: the same index
    report = ingest_photos(
        world.store("acme", "photos"), {21: (query, {"topic": "nature"})}, "more"
    )
    assert report.ok == 1
    _, after = world.search("acme_member", "photos", query, min_score=-1)
    assert after["data"][0]["caption"] == query
    assert after["index"]["documents"] == 6
    assert engine.snapshots.builds == builds + 1


def test_a_store_that_disappears_is_a_clear_error(world: World, tmp_path: Path) -> None:
    (world.store("globex", "secrets") / "manifest.json").unlink()
    status, body = world.search("globex_admin", "secrets", "crown", min_score=-1)
    assert status == 400 and "manifest.json" in body["error"]["message"]
    assert str(world.root) not in body["error"]["message"]  # why, but not where


@pytest.mark.parametrize("gone", ["moved", "deleted"])
def test_a_loaded_store_that_goes_away_is_a_clear_error(world: World, gone: str) -> None:
    assert world.search("globex_admin", "secrets", "crown", min_score=-1)[0] == 200  # loaded
    store = world.store("globex", "secrets")
    if gone == "moved":
        store.rename(store.with_name(store.name + ".bak"))
    else:
        shutil.rmtree(store)
    status, body = world.search("globex_admin", "secrets", "crown", min_score=-1)
    assert status in (400, 404) and body["error"]["message"], body  # was a 500


def test_the_search_page_is_served(world: World) -> None:
    status, headers, page = world.raw("GET", "/app/search.html")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="search.js"' in page
    assert world.raw("GET", "/app/search.js")[0] == 200


def test_searches_count_against_the_tenants_request_rate(world: World) -> None:
    limit = {"tenant": "acme", "requests_per_minute": 2}
    assert world.call("PUT", "/admin/budgets", "acme_admin", limit)[0] == 200
    status, headers, _ = world.raw(
        "POST", "/v1/search", "acme_member", {"collection": "photos", "query": "a dog"}
    )
    assert status == 200 and headers["x-ratelimit-limit-requests"] == "2"
    assert world.search("acme_member", "photos", "a dog", min_score=-1)[0] == 200
    status, body = world.search(
        "acme_admin", "photos", "a dog", min_score=-1
    )  # same tenant, other key
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded", body
    assert world.search("globex_admin", "photos", "a dog", min_score=-1)[0] == 200  # another tenant
