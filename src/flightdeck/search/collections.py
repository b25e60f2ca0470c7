"""Collections: a tenant's named pointer to a media store (what ``flightdeck media ingest`` wrote).

A collection holds no documents itself; search reads the store it points to and never writes to
it, so deleting a collection deletes only the pointer. Names are unique per tenant.

A collection may point only at a store of its own tenant (in the tenant's folder of a search
root, ``search/ownership.py``) or at one a platform admin shared with the tenant
(``search/shares.py``); this is checked when the collection is made and again on every use, so
a revoked share or a store moved away closes it (403). Tenants name stores relative to their
folder (``photos``) or by share (``shared:<name>``) and never see absolute server locations.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from flightdeck.core.errors import InvalidRequest, NotFound, PermissionDenied
from flightdeck.mediastore.errors import StoreError
from flightdeck.mediastore.store import MediaStore
from flightdeck.search.locations import check_shard_files, resolve_store_uri
from flightdeck.search.ownership import (
    SHARED_PREFIX,
    StoreLocation,
    is_tenant_relative,
    locate,
    locate_uri,
    tenant_candidates,
)
from flightdeck.search.shares import ShareStore
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Collection

COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class CollectionExists(InvalidRequest):
    """A collection of that name already exists in the tenant (409)."""

    status = 409
    code = "collection_exists"


class StoreNotOwned(PermissionDenied):
    """The store does not belong to the tenant and is not shared with it (403)."""

    code = "store_not_owned"


UNAVAILABLE = "unavailable"  # how a tenant sees a store it may no longer use


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
        self.shares = ShareStore(store, roots)

    async def create(self, tenant: str, name: str, uri: str, description: str = "") -> Collection:
        """Register a store as collection ``name`` of ``tenant``.

        ``uri`` is a store name in the tenant's folder (``photos``), ``shared:<share>``, or an
        absolute location under a root. The store must be the tenant's or shared with it (403),
        lie under a root and open (400); the name must be free (409)."""
        check_collection_name(name)
        media = await self._open_for(tenant, uri)
        record = Collection(tenant=tenant, name=name, uri=media.url, description=description)
        try:
            async with self.store.session() as session, session.begin():
                session.add(record)
        except IntegrityError:
            raise CollectionExists(
                f"collection {name!r} already exists in tenant {tenant!r}", param="name"
            ) from None
        return record

    async def _open_for(self, tenant: str, uri: str) -> MediaStore:
        """The store ``tenant`` names by ``uri``, opened, if the tenant may use it (403)."""
        if uri.startswith(SHARED_PREFIX):
            share = await self.shares.named(tenant, uri.removeprefix(SHARED_PREFIX))
            return await self._open_checked(tenant, share.uri, shown=uri)
        if not is_tenant_relative(uri):
            return await self._open_checked(tenant, uri, shown=None)
        candidates = tenant_candidates(tenant, uri, self.roots)
        if len(candidates) == 1:  # one root: its answer, whatever it is
            return await self._open_checked(tenant, candidates[0], shown=uri)
        for candidate in candidates:
            try:
                return await self._open_checked(tenant, candidate, shown=uri)
            except (InvalidRequest, PermissionDenied):
                continue
        raise InvalidRequest(f"tenant {tenant!r} has no readable store named {uri!r}", param="uri")

    async def _open_checked(self, tenant: str, uri: str, *, shown: str | None) -> MediaStore:
        """Locate (symlinks resolved), authorize, then open. When ``shown`` is given the caller
        must not learn the location: errors name ``shown`` instead."""
        try:
            location = await asyncio.to_thread(locate_uri, uri, self.roots)
            await self.authorize(tenant, location)
            return await asyncio.to_thread(open_media_store, location.uri, self.roots)
        except (InvalidRequest, PermissionDenied) as exc:
            if shown is None:
                raise
            if isinstance(exc, PermissionDenied):
                message = f"the store {shown!r} is not tenant {tenant!r}'s and not shared with it"
            else:
                message = f"the store {shown!r} does not exist or does not open"
            raise type(exc)(message, param="uri", code=exc.code) from None

    async def authorize(self, tenant: str, location: StoreLocation) -> None:
        """Pass if the store is ``tenant``'s or shared with it; else StoreNotOwned (403)."""
        if location.owner == tenant or await self.shares.of_store(tenant, location.uri):
            return
        raise StoreNotOwned(
            f"this store is not in tenant {tenant!r}'s folder and is not shared with it; "
            "a platform admin can share it (POST /admin/store-shares)",
            param="uri",
        )

    async def usable_uri(self, record: Collection) -> str:
        """The canonical store of a collection, checked now: still under a root (400) and still
        its tenant's or shared with it (403)."""
        location = await asyncio.to_thread(locate_uri, record.uri, self.roots)
        await self.authorize(record.tenant, location)
        return location.uri

    async def shown_uris(self, tenant: str, records: Sequence[Collection]) -> dict[int, str]:
        """How a tenant's users see each collection's store: its name in the tenant's folder,
        ``shared:<name>``, or ``unavailable``; never an absolute location."""
        shares = {s.uri: s.name for s in await self.shares.list(tenant)}
        out = {}
        for record in records:
            location = locate(record.uri, self.roots)
            if location.owner == tenant:
                out[record.id] = location.relative
            elif record.uri in shares:
                out[record.id] = SHARED_PREFIX + shares[record.uri]
            else:
                out[record.id] = UNAVAILABLE
        return out

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
