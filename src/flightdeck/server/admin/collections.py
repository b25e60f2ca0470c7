"""``/admin/collections``: tenant admins register, inspect and remove their collections.

The same rules hold as for every admin route: reading needs any role of the tenant, changing
needs its admin role (or a platform admin), naming another tenant is 403, another tenant's
collection is 404.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from flightdeck.core.errors import RequestError
from flightdeck.search.collections import CollectionStore, open_media_store
from flightdeck.search.ownership import hide_locations
from flightdeck.search.summary import describe_store
from flightdeck.server.admin.access import Access, CallerAccess, Services
from flightdeck.store.models_tenancy import Collection

router = APIRouter(prefix="/collections", tags=["collections"])


class CollectionIn(BaseModel):
    """A collection to register: a name for a media store."""

    name: str = Field(description="lowercase letters, digits, '.', '_', '-'")
    uri: str = Field(
        min_length=1,
        description=(
            "the media store: its name in the tenant's folder ('photos'), 'shared:<share>' for "
            "a store a platform admin shared with the tenant, or an absolute location"
        ),
    )
    description: str = Field("", max_length=2000)
    tenant: str | None = Field(None, description="default: the caller's tenant")


class CollectionOut(BaseModel):
    """A collection as the caller may see it."""

    name: str
    tenant: str
    uri: str = Field(
        description=(
            "platform admins: the store's location; everyone else: its name in the tenant's "
            "folder, 'shared:<share>', or 'unavailable' (no longer the tenant's nor shared)"
        )
    )
    description: str
    created_at: datetime


class CollectionDetail(CollectionOut):
    """A collection with its store's counts and embeddings."""

    shards: int
    documents: dict[str, int] = Field(description="total, ok, duplicate, failed")
    embeddings: dict[str, dict[str, int] | None] = Field(
        description="text, image, clip_text: their dimensions and documents, or null"
    )


def collection_out(c: Collection, uri: str) -> CollectionOut:
    """``c`` as the API shows it, with ``uri`` as the caller may see it."""
    return CollectionOut(
        name=c.name, tenant=c.tenant, uri=uri, description=c.description, created_at=c.created_at
    )


async def shown(
    collections: CollectionStore, caller: Access, tenant: str, records: list[Collection]
) -> list[CollectionOut]:
    """Collections as the caller may see them: locations only for platform admins."""
    if caller.platform_admin:
        return [collection_out(c, c.uri) for c in records]
    uris = await collections.shown_uris(tenant, records)
    return [collection_out(c, uris[c.id]) for c in records]


@router.get("", response_model=list[CollectionOut])
async def list_collections(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[CollectionOut]:
    owner = caller.tenant(tenant)
    return await shown(services.collections, caller, owner, await services.collections.list(owner))


@router.post("", response_model=CollectionOut, status_code=201)
async def create_collection(
    body: CollectionIn, caller: CallerAccess, services: Services
) -> CollectionOut:
    tenant = caller.tenant(body.tenant, write=True)
    await services.tenant_must_exist(tenant)
    record = await services.collections.create(tenant, body.name, body.uri, body.description)
    return (await shown(services.collections, caller, tenant, [record]))[0]


@router.get("/{name}", response_model=CollectionDetail)
async def get_collection(
    name: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> CollectionDetail:
    owner = caller.tenant(tenant)
    record = await services.collections.get(owner, name)
    try:
        uri = await services.collections.usable_uri(record)
        media = await asyncio.to_thread(open_media_store, uri, services.collections.roots)
        summary = await asyncio.to_thread(describe_store, media)
    except RequestError as exc:
        if not caller.platform_admin:  # say why, not where it lies on the server
            exc.message = hide_locations(exc.message, services.collections.roots)
            exc.args = (exc.message,)
        raise
    (out,) = await shown(services.collections, caller, owner, [record])
    return CollectionDetail(**out.model_dump(), **summary)


@router.delete("/{name}", status_code=204)
async def delete_collection(
    name: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> Response:
    owner = caller.tenant(tenant)
    await services.collections.get(owner, name)  # another tenant's: 404 before the role check
    caller.tenant(owner, write=True)
    await services.collections.delete(owner, name)
    return Response(status_code=204)
