"""Collections in the database (SQLite and PostgreSQL) and the guard on where they may point."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fsspec
import pytest

from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.search.collections import CollectionExists, CollectionStore
from flightdeck.search.locations import canonical_uri, resolve_store_uri
from flightdeck.store.database import Store
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


async def test_names_are_unique_per_tenant(store: Store, media_root: Path, tenant: str) -> None:
    collections = CollectionStore(store, [str(media_root)])
    other = tenant + "-other"
    created = await collections.create(tenant, "photos", str(media_root / "photos"), "mine")
    assert created.uri == str((media_root / "photos").resolve())
    with pytest.raises(CollectionExists) as exc:
        await collections.create(tenant, "photos", str(media_root / "secrets"))
    assert exc.value.status == 409
    await collections.create(other, "photos", str(media_root / "secrets"))
    assert (await collections.get(tenant, "photos")).description == "mine"
    assert (await collections.get(other, "photos")).uri.endswith("secrets")
    assert [c.name for c in await collections.list(tenant)] == ["photos"]


async def test_get_and_delete_are_scoped_to_the_tenant(
    store: Store, media_root: Path, tenant: str
) -> None:
    collections = CollectionStore(store, [str(media_root)])
    await collections.create(tenant, "photos", str(media_root / "photos"))
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
    fs.put(str(media_root / "photos"), f"{prefix}/media/photos", recursive=True)
    yield prefix
    fs.rm(prefix, recursive=True)


async def test_object_store_collections_open_under_a_root_prefix(
    store: Store, memory_stores: str, tenant: str
) -> None:
    collections = CollectionStore(store, [f"{memory_stores}/media"])
    created = await collections.create(tenant, "photos", f"{memory_stores}/media/photos/")
    assert created.uri == f"{memory_stores}/media/photos"
    with pytest.raises(InvalidRequest, match="not under a configured search root"):
        await collections.create(tenant, "other", f"{memory_stores}/elsewhere/photos")
    with pytest.raises(InvalidRequest, match="does not open"):
        await collections.create(tenant, "missing", f"{memory_stores}/media/missing")
