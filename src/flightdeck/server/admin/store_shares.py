"""``/admin/store-shares``: platform admins share a media store with a tenant that does not own it.

Creating and deleting shares needs a platform admin (403 otherwise); anyone may list their own
tenant's shares, by name only (a store's location is shown to platform admins alone), and name
them as ``shared:<name>`` in ``POST /admin/collections``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from flightdeck.core.errors import NotFound
from flightdeck.server.admin.access import CallerAccess, Services
from flightdeck.store.models_tenancy import StoreShare

router = APIRouter(prefix="/store-shares", tags=["store shares"])


class ShareIn(BaseModel):
    """A store to share with a tenant."""

    tenant: str = Field(description="the tenant the store is shared with")
    uri: str = Field(min_length=1, description="the store's location under a search root")
    name: str | None = Field(
        None, description="how the tenant names it ('shared:<name>'); default: its folder's name"
    )


class ShareOut(BaseModel):
    """A share as the caller may see it."""

    name: str
    tenant: str
    uri: str | None = Field(description="the store's location (platform admins only)")
    created_by: str | None = Field(description="who shared it (platform admins only)")
    created_at: datetime


def share_out(share: StoreShare, platform_admin: bool) -> ShareOut:
    """``share`` as the API shows it; location and author for platform admins only."""
    return ShareOut(
        name=share.name,
        tenant=share.tenant,
        uri=share.uri if platform_admin else None,
        created_by=share.created_by if platform_admin else None,
        created_at=share.created_at,
    )


@router.get("", response_model=list[ShareOut])
async def list_shares(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[ShareOut]:
    """Shares of a tenant (platform admins without ``tenant``: of every tenant)."""
    scope = None if caller.platform_admin and tenant is None else caller.tenant(tenant)
    return [
        share_out(s, caller.platform_admin) for s in await services.collections.shares.list(scope)
    ]


@router.post("", response_model=ShareOut, status_code=201)
async def create_share(body: ShareIn, caller: CallerAccess, services: Services) -> ShareOut:
    """Share a store with a tenant (platform admins only)."""
    caller.require_platform_admin()
    if not await services.tenants.exists(body.tenant):
        raise NotFound(f"tenant {body.tenant!r} does not exist", code="tenant_not_found")
    made = await services.collections.shares.create(
        body.tenant, body.uri, body.name, caller.principal.name
    )
    return share_out(made, True)


@router.delete("/{name}", status_code=204)
async def delete_share(
    name: str, caller: CallerAccess, services: Services, tenant: str | None = None
) -> Response:
    """Stop sharing: the tenant's collections over the store answer 403 from now on."""
    caller.require_platform_admin()
    await services.collections.shares.delete(caller.tenant(tenant), name)
    return Response(status_code=204)
