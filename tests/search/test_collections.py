"""Collections in the database (SQLite and PostgreSQL) and the guard on where they may point."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fsspec
import pytest

from flightdeck.core.errors import InvalidRequest, NotFound, PermissionDenied
from flightdeck.search.collections import CollectionExists, CollectionStore
from flightdeck.search.locations import canonical_uri, resolve_store_uri
from flightdeck.search.ownership import display_source, hide_locations, locate_uri
from flightdeck.store.database import Store
from tests.search.conftest import place_store, tenant_store
from tests.tenancy_support.services import pg_database, pg_url  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite+aiosqlite:///{tmp_path / 'fd.db'}")
    else:
        s = Store(pg_url(request.getfixturevalue("pg_database")))
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stores_of(media_root: Path, built_stores: Path, tenant: str) -> Path:
    """``tenant`` and ``tenant-other`` own copies of both built stores."""
    for owner in (tenant, tenant + "-other"):
        for name in ("photos", "secrets"):
            place_store(media_root, built_stores, name, owner)
    return media_root


async def test_names_are_unique_per_tenant(store: Store, stores_of: Path, tenant: str) -> None:
    collections = CollectionStore(store, [str(stores_of)])
    other = tenant + "-other"
    created = await collections.create(tenant, "photos", "photos", "mine")
    assert created.uri == str(tenant_store(stores_of, tenant, "photos").resolve())
    with pytest.raises(CollectionExists) as exc:
        await collections.create(tenant, "photos", "secrets")
    assert exc.value.status == 409
    await collections.create(other, "photos", str(tenant_store(stores_of, other, "secrets")))
    assert (await collections.get(tenant, "photos")).description == "mine"
    assert (await collections.get(other, "photos")).uri.endswith("secrets")
    assert [c.name for c in await collections.list(tenant)] == ["photos"]


async def test_get_and_delete_are_scoped_to_the_tenant(
    store: Store, stores_of: Path, tenant: str
) -> None:
    collections = CollectionStore(store, [str(stores_of)])
    await collections.create(tenant, "photos", "photos")
    with pytest.raises(NotFound):
        await collections.get(tenant + "-other", "photos")
    with pytest.raises(NotFound):
        await collections.delete(tenant + "-other", "photos")
    await collections.delete(tenant, "photos")
    assert await collections.list(tenant) == []
    with pytest.raises(NotFound):
        await collections.delete(tenant, "photos")


@pytest.mark.parametrize("name", ["", "Photos", "a b", "-x", "x" * 64, "../x", "x/y"])
async def test_bad_names_are_refused(store: Store, media_root: Path, name: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        await CollectionStore(store, [str(media_root)]).create("t", name, str(media_root))
    assert exc.value.param == "name"


# -- where a collection may point ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "roots", "allowed"),
    [
        ("/data/media/a", ["/data/media"], True),
        ("/data/media", ["/data/media"], True),
        ("file:///data/media/a", ["/data/media"], True),
        ("/data/media/a/", ["/data/media/"], True),
        ("/data/media2/a", ["/data/media"], False),
        ("/data/media/../secret", ["/data/media"], False),
        ("data/media/a", ["/data/media"], False),
        ("/etc/passwd", ["/data/media"], False),
        ("s3://bucket/media/a", ["s3://bucket/media"], True),
        ("S3://bucket/media/a", ["s3://bucket/media/"], True),
        ("s3://bucket/media", ["s3://bucket/media"], True),
        ("s3://bucket/media-other/a", ["s3://bucket/media"], False),
        ("s3://other/media/a", ["s3://bucket/media"], False),
        ("gs://bucket/media/a", ["s3://bucket/media"], False),
        ("s3://bucket/media/../x", ["s3://bucket/media"], False),
        ("s3://bucket/media//x", ["s3://bucket/media"], False),
        ("s3://bucket/media/a?x=1", ["s3://bucket/media"], False),
        ("simplecache::s3://bucket/media/a", ["s3://bucket/media"], False),
        ("s3://bucket/media/a", ["/data/media"], False),
        ("/data/media/a", ["s3://bucket/media"], False),
        ("http://169.254.169.254/latest", ["/data/media"], False),
    ],
)
def test_store_uris_must_lie_under_a_root(uri: str, roots: list[str], allowed: bool) -> None:
    if allowed:
        assert resolve_store_uri(uri, roots) == canonical_uri(uri)
    else:
        with pytest.raises(InvalidRequest) as exc:
            resolve_store_uri(uri, roots)
        assert exc.value.param == "uri" and exc.value.code == "uri_not_allowed"


def test_relative_roots_are_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_store_uri(str(tmp_path / "media" / "a"), ["media"]).endswith("/media/a")


@pytest.fixture
def memory_stores(media_root: Path) -> Iterator[str]:
    """The built photos store copied into fsspec's in-memory object store."""
    prefix = f"memory://fd-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.put(
        str(media_root / "tenants/acme/photos"), f"{prefix}/media/tenants/t1/photos", recursive=True
    )
    yield prefix
    fs.rm(prefix, recursive=True)


async def test_object_store_collections_open_under_a_root_prefix(
    store: Store, memory_stores: str, tenant: str
) -> None:
    collections = CollectionStore(store, [f"{memory_stores}/media"])
    mine = f"{memory_stores}/media/tenants/t1/photos"
    created = await collections.create("t1", "photos", mine + "/")
    assert created.uri == mine
    assert (await collections.create("t1", "again", "photos")).uri == mine
    with pytest.raises(InvalidRequest, match="not under a configured search root"):
        await collections.create("t1", "other", f"{memory_stores}/elsewhere/photos")
    with pytest.raises(InvalidRequest, match="does not open"):
        await collections.create("t1", "missing", f"{memory_stores}/media/tenants/t1/missing")
    # a tenant whose name extends t1's is a sibling, not inside it
    with pytest.raises(PermissionDenied):
        await collections.create("t10", "photos", mine)
    with pytest.raises(PermissionDenied):
        await collections.create("t", "photos", mine)


# -- who owns a store ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "owner"),
    [
        ("/data/media/tenants/t1/photos", "t1"),
        ("/data/media/tenants/t1/2024/photos/", "t1"),
        ("/data/media/tenants/t10/photos", "t10"),
        ("/data/media/tenants/t1", None),  # the tenant's folder itself is not one of its stores
        ("/data/media/tenants/T1/photos", None),  # not a tenant name: nobody's
        ("/data/media/Tenants/t1/photos", None),
        ("/data/media/photos", None),
        ("/data/media/nested/tenants/t1/photos", None),
        ("s3://b/media/tenants/t1/photos", "t1"),
        ("s3://b/media/tenants/t10/photos", "t10"),
        ("s3://b/media/tenants/t1photos", None),
        ("s3://b/media/tenants", None),
    ],
)
def test_a_store_belongs_to_the_tenant_whose_folder_holds_it(uri: str, owner: str | None) -> None:
    assert locate_uri(uri, ["/data/media", "s3://b/media"]).owner == owner


@pytest.mark.parametrize(
    "uri",
    [
        "/data/media/tenants/t2/../t1/photos",
        "s3://b/media/tenants/t2/../t1/photos",
        "s3://b/media/tenants/t2/..%2Ft1/photos",
        "s3://b/media/tenants/t2\\..\\t1/photos",
        "s3://user@b/media/tenants/t1/photos",
        "simplecache::s3://b/media/tenants/t1/photos",
    ],
)
def test_tricks_that_climb_into_another_tenants_folder_are_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        locate_uri(uri, ["/data/media", "s3://b/media"])
    assert exc.value.code == "uri_not_allowed"


def test_with_nested_roots_the_innermost_decides() -> None:
    roots = ["/data", "/data/media"]
    assert locate_uri("/data/media/tenants/t1/p", roots).owner == "t1"
    assert locate_uri("/data/tenants/t2/p", roots).owner == "t2"


def test_a_link_in_one_tenants_folder_to_anothers_store_belongs_to_the_other(
    tmp_path: Path,
) -> None:
    target = tmp_path / "tenants" / "acme" / "photos"
    target.mkdir(parents=True)
    (tmp_path / "tenants" / "globex").mkdir()
    (tmp_path / "tenants" / "globex" / "photos").symlink_to(target)
    located = locate_uri(str(tmp_path / "tenants" / "globex" / "photos"), [str(tmp_path)])
    assert (located.owner, located.relative) == ("acme", "photos")


def test_sources_are_shown_without_server_paths() -> None:
    roots = ["/data/media"]
    assert display_source("/data/media/tenants/t1/in/1.jpg", "t1", roots) == "in/1.jpg"
    assert display_source("/data/media/tenants/t2/in/1.jpg", "t1", roots) == "1.jpg"
    assert display_source("file:///srv/inputs/2.jpg", "t1", roots) == "2.jpg"
    assert display_source("https://img.test/3.jpg", "t1", roots) == "https://img.test/3.jpg"
    message = "STORE '/data/media/tenants/t1/photos' has no manifest.json; '/data/media/x'"
    assert hide_locations(message, roots) == "STORE 'photos' has no manifest.json; '<root>/x'"
