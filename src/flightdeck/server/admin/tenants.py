"""``/admin/tenants``: every caller lists the tenants it sees; platform admins create them."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from flightdeck.server.admin.access import CallerAccess, Services

router = APIRouter(prefix="/tenants", tags=["tenants"])


class TenantIn(BaseModel):
    """A tenant to create."""

    name: str = Field(description="lowercase letters, digits, '.', '_', '-'")
    display_name: str = ""


class TenantOut(BaseModel):
    """A tenant as the API shows it."""

    name: str
    display_name: str
    created_at: datetime


@router.get("", response_model=list[TenantOut])
async def list_tenants(caller: CallerAccess, services: Services) -> list[TenantOut]:
    tenants = await services.tenants.list()
    visible = [t for t in tenants if caller.platform_admin or t.name == caller.principal.tenant]
    return [
        TenantOut(name=t.name, display_name=t.display_name, created_at=t.created_at)
        for t in visible
    ]


@router.post("", response_model=TenantOut, status_code=201)
async def create_tenant(body: TenantIn, caller: CallerAccess, services: Services) -> TenantOut:
    caller.require_platform_admin()
    t = await services.tenants.create(body.name, body.display_name)
    return TenantOut(name=t.name, display_name=t.display_name, created_at=t.created_at)
