"""``/admin/collections`` over real HTTP: access rules, store checks, and what a detail shows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.search.conftest import World

# (caller, method, path, body, expected status). {root} is the search root, {acme} acme's folder.
ACCESS_CASES = [
    (None, "GET", "/collections", None, 401),
    (None, "GET", "/collections/photos", None, 401),
    (None, "DELETE", "/collections/photos", None, 401),
    (None, "POST", "/collections", {"name": "x", "uri": "{acme}/photos"}, 401),
    ("acme_member", "GET", "/collections", None, 200),
    ("acme_member", "GET", "/collections/photos", None, 200),
    ("acme_admin", "GET", "/collections?tenant=globex", None, 403),
    ("acme_admin", "GET", "/collections/secrets", None, 404),
    ("acme_admin", "GET", "/collections/secrets?tenant=globex", None, 403),
    ("acme_admin", "DELETE", "/collections/secrets", None, 404),
    ("acme_admin", "DELETE", "/collections/secrets?tenant=globex", None, 403),
    ("acme_member", "DELETE", "/collections/photos", None, 403),
    ("acme_member", "POST", "/collections", {"name": "x", "uri": "{acme}/photos"}, 403),
    (
        "acme_admin",
        "POST",
        "/collections",
        {"name": "x", "uri": "{acme}/photos", "tenant": "globex"},
        403,
    ),
    ("acme_admin", "POST", "/collections", {"name": "photos", "uri": "{acme}/photos"}, 409),
    ("acme_admin", "POST", "/collections", {"name": "Bad Name", "uri": "{acme}/photos"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "/etc"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "{root}/../outside"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "photos"}, 201),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "nope"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "../globex/secrets"}, 400),
    (
        "acme_admin",
        "POST",
        "/collections",
        {"name": "x", "uri": "{root}/tenants/globex/secrets"},
        403,
    ),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "{acme}/../globex/secrets"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "shared:secrets"}, 404),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "s3://bucket/photos"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "http://127.0.0.1/x"}, 400),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "{acme}/photos", "extra": 1}, 201),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "{root}"}, 403),
    ("acme_admin", "POST", "/collections", {"name": "x", "uri": "{acme}"}, 403),
    (
        "platform",
        "POST",
        "/collections",
        {"name": "x", "uri": "{acme}/photos", "tenant": "nope"},
        404,
    ),
    (
        "platform",
        "POST",
        "/collections",
        {"name": "x", "uri": "{acme}/photos", "tenant": "globex"},
        403,
    ),
    (
        "platform",
        "POST",
        "/collections",
        {"name": "x", "uri": "{root}/tenants/globex/secrets", "tenant": "globex"},
        201,
    ),
    ("platform", "GET", "/collections/secrets?tenant=globex", None, 200),
    ("platform", "DELETE", "/collections/secrets?tenant=globex", None, 204),
    ("globex_admin", "DELETE", "/collections/secrets", None, 204),
]


def _fill(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{acme}", str(root / "tenants" / "acme")).replace("{root}", str(root))
    if isinstance(value, dict):
        return {k: _fill(v, root) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("caller", "method", "path", "body", "status"), ACCESS_CASES)
def test_route_access(
    world: World, caller: str | None, method: str, path: str, body: Any, status: int
) -> None:
    got, data = world.call(method, "/admin" + path, caller, _fill(body, world.root))
    assert got == status, data
    if status >= 400:
        assert set(data["error"]) == {"message", "type", "param", "code"}


def test_list_shows_only_the_callers_tenant(world: World) -> None:
    _, acme = world.call("GET", "/admin/collections", "acme_member")
    assert [(c["tenant"], c["name"]) for c in acme] == [("acme", "photos")]
    _, globex = world.call("GET", "/admin/collections?tenant=globex", "platform")
    assert [c["name"] for c in globex] == ["photos", "secrets"]


def test_detail_counts_documents_by_status_and_names_the_embeddings(world: World) -> None:
    status, detail = world.call("GET", "/admin/collections/photos", "acme_member")
    assert status == 200, detail
    assert detail["uri"] == "photos"  # named in acme's folder: no server path
    _, as_platform = world.call("GET", "/admin/collections/photos?tenant=acme", "platform")
    assert as_platform["uri"] == os.path.realpath(world.store("acme", "photos"))
    assert detail["documents"] == {"total": 6, "ok": 5, "duplicate": 1, "failed": 0}
    assert detail["shards"] == 2
    assert detail["embeddings"] == {
        "text": {"dimensions": 384, "documents": 5},
        "image": None,
        "clip_text": None,
    }


def test_a_folder_without_a_store_is_refused_naming_the_problem(world: World) -> None:
    world.store("acme", "empty").mkdir()
    body = {"name": "empty", "uri": str(world.store("acme", "empty"))}
    status, answer = world.call("POST", "/admin/collections", "acme_admin", body)
    assert status == 400 and "has no manifest.json" in answer["error"]["message"]
    (world.store("acme", "empty") / "manifest.json").write_text(
        '{"version": 1, "shards": {}, "checksum": "x"}'
    )
    status, answer = world.call("POST", "/admin/collections", "acme_admin", body)
    assert status == 400 and "checksum" in answer["error"]["message"]


def test_a_symlink_inside_the_root_cannot_lead_outside(world: World, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    world.store("acme", "photos").rename(outside)
    world.store("acme", "link").symlink_to(outside)
    body = {"name": "link", "uri": str(world.store("acme", "link"))}
    status, answer = world.call("POST", "/admin/collections", "acme_admin", body)
    assert status == 400 and answer["error"]["code"] == "uri_not_allowed"
    # ...and a registered collection whose folder is swapped for such a link stops serving.
    world.store("acme", "photos").symlink_to(outside)
    status, answer = world.search("acme_admin", "photos", "car")
    assert status == 400 and answer["error"]["code"] == "uri_not_allowed"
    assert str(world.root) not in answer["error"]["message"]


def test_a_symlink_within_the_root_is_followed(world: World) -> None:
    world.store("acme", "alias").symlink_to(world.store("acme", "photos"))
    body = {"name": "alias", "uri": "alias"}
    status, created = world.call("POST", "/admin/collections", "acme_admin", body)
    assert status == 201 and created["uri"] == "photos"  # the link's target, in acme's folder


def test_created_collection_is_searchable_and_delete_leaves_the_store(world: World) -> None:
    body = {"name": "again", "uri": "photos", "description": "a second name"}
    status, created = world.call("POST", "/admin/collections", "acme_admin", body)
    assert (
        status == 201
        and created["tenant"] == "acme"
        and created["description"] == body["description"]
    )
    assert world.search("acme_member", "again", "soup")[0] == 200
    assert world.call("DELETE", "/admin/collections/again", "acme_admin")[0] == 204
    status, answer = world.search("acme_member", "again", "soup")
    assert status == 404 and answer["error"]["code"] == "collection_not_found"
    assert (world.store("acme", "photos") / "manifest.json").exists()
    assert world.search("acme_member", "photos", "soup")[0] == 200


def test_openapi_documents_the_collection_routes(world: World) -> None:
    status, spec = world.call("GET", "/admin/openapi.json", "acme_admin")
    assert status == 200
    assert {"/collections", "/collections/{name}"} <= set(spec["paths"])
    assert set(spec["paths"]["/collections/{name}"]) == {"get", "delete"}
