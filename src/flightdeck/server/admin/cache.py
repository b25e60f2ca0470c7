"""``DELETE /admin/cache?tenant=&model=``: purge the response cache of a tenant (issue #16).

The tenant's admin role purges its own entries; a platform admin any tenant's; naming another
tenant is 403. Without ``model`` every model group of the tenant is purged. The reply counts
the entries deleted (prompt vectors of the semantic index go with them). An admin app built
without a cache (``admin_mount`` without one) deletes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from flightdeck.server.admin.access import CallerAccess, Services

router = APIRouter(prefix="/cache", tags=["cache"])


class CachePurgeOut(BaseModel):
    """What a purge deleted."""

    tenant: str
    model: str | None = Field(description="the model group purged; None: every group")
    deleted: int = Field(description="entries deleted")


@router.delete("", response_model=CachePurgeOut)
async def purge_cache(
    caller: CallerAccess, services: Services, tenant: str | None = None, model: str | None = None
) -> CachePurgeOut:
    name = caller.tenant(tenant, write=True)
    group = model or None
    deleted = 0
    if services.cache is not None:
        deleted = await services.cache.purge(name, group)  # CacheUnavailable: 503
    return CachePurgeOut(tenant=name, model=group, deleted=deleted)
