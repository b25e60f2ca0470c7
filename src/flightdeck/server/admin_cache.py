"""``DELETE /admin/cache?tenant=&model=``: purge the response cache of a tenant (issue #16).

The tenant's admin role purges its own entries; a platform admin any tenant's; naming another
tenant is 403. Without ``model`` every model group of the tenant is purged. The reply counts
the entries deleted (prompt vectors of the semantic index go with them).
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency alias.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from flightdeck.cache import ResponseCache
from flightdeck.server.admin_access import Access


class CachePurgeOut(BaseModel):
    tenant: str
    model: str | None = Field(description="the model group purged; None: every group")
    deleted: int = Field(description="entries deleted")


def cache_router(cache: ResponseCache, access: Callable[..., Any]) -> APIRouter:
    """The router (see the module docstring); ``access`` is the admin app's caller dependency."""
    router = APIRouter(prefix="/cache", tags=["cache"])
    caller_dep = Annotated[Access, Depends(access)]

    @router.delete("", response_model=CachePurgeOut)
    async def purge_cache(
        caller: caller_dep, tenant: str | None = None, model: str | None = None
    ) -> CachePurgeOut:
        name = caller.tenant(tenant, write=True)
        deleted = await cache.purge(name, model or None)  # CacheUnavailable: 503
        return CachePurgeOut(tenant=name, model=model or None, deleted=deleted)

    return router
