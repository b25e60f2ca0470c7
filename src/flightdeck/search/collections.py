"""Collections: a tenant's named pointer to a media store (what ``flightdeck media ingest`` wrote).

A collection holds no documents itself; search reads the store it points to and never writes to
it, so deleting a collection deletes only the pointer. Names are unique per tenant; the same
store may back collections of several tenants.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.media.errors import StoreError
from flightdeck.media.store import MediaStore
from flightdeck.search.locations import check_shard_files, resolve_store_uri
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Collection

COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class CollectionExists(InvalidRequest):
    status = 409
    code = "collection_exists"


def check_collection_name(name: str) -> str:
    if not COLLECTION_NAME.fullmatch(name):
        raise InvalidRequest(
            "a collection name is 1-63 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            param="name",
        )
    return name


def collection_not_found(name: str) -> NotFound:
    return NotFound(f"collection {name!r} does not exist", code="collection_not_found")


def open_media_store(uri: str, roots: Sequence[str]) -> MediaStore:
    """The store behind a collection, if it is (still) under a root and opens cleanly (400)."""
    canonical = resolve_store_uri(uri, roots)
    try:
        store = MediaStore.open(canonical)
    except StoreError as exc:
        raise InvalidRequest(f"the store at {uri!r} does not open: {exc}", param="uri") from None
    except OSError as exc:
        raise InvalidRequest(f"the store at {uri!r} is unreadable: {exc}", param="uri") from None
    check_shard_files([e.file for e in store.shards.values()])
    check_shard_files([e.stats_file for e in store.shards.values()])
    return store


class CollectionStore:
    """Collections in the database, always looked up by (tenant, name)."""

    def __init__(self, store: Store, roots: Sequence[str]) -> None:
        self.store = store
        self.roots = list(roots)

    async def create(self, tenant: str, name: str, uri: str, description: str = "") -> Collection:
        """Register a store; it must lie under a root and open (400), the name be free (409)."""
        check_collection_name(name)
        media = await asyncio.to_thread(open_media_store, uri, self.roots)
        record = Collection(tenant=tenant, name=name, uri=media.url, description=description)
        try:
            async with self.store.session() as session, session.begin():
                session.add(record)
        except IntegrityError:
            raise CollectionExists(
                f"collection {name!r} already exists in tenant {tenant!r}", param="name"
            ) from None
        return record

    async def list(self, tenant: str) -> list[Collection]:
        async with self.store.session() as session:
            query = select(Collection).where(Collection.tenant == tenant).order_by(Collection.name)
            return list((await session.scalars(query)).all())

    async def get(self, tenant: str, name: str) -> Collection:
        """The tenant's collection; another tenant's is as unknown as a missing one (404)."""
        async with self.store.session() as session:
            record = await session.scalar(
                select(Collection).where(Collection.tenant == tenant, Collection.name == name)
            )
        if record is None:
            raise collection_not_found(name)
        return record

    async def delete(self, tenant: str, name: str) -> None:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                delete(Collection).where(Collection.tenant == tenant, Collection.name == name)
            )
        if not getattr(result, "rowcount", 0):
            raise collection_not_found(name)
