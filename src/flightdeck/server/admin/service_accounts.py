"""``/admin/service-accounts``: owners of API keys; a key acts with at most its owner's role."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from flightdeck.auth.accounts import AccountKind
from flightdeck.auth.keys import Role
from flightdeck.server.admin.access import CallerAccess, Services
from flightdeck.server.admin.accounts import NAME_RULE, RolePatch, delete_account, set_role
from flightdeck.store.models_tenancy import Account

router = APIRouter(prefix="/service-accounts", tags=["service accounts"])


class ServiceAccountIn(BaseModel):
    """A service account to create."""

    name: str = Field(description=NAME_RULE)
    role: Role = Field(Role.MEMBER, description="the most its keys may have")
    tenant: str | None = Field(None, description="default: the caller's tenant")


class ServiceAccountOut(BaseModel):
    """A service account."""

    id: int
    name: str
    tenant: str
    role: Role
    created_at: datetime


def service_account_out(a: Account) -> ServiceAccountOut:
    """``a`` as the API shows a service account."""
    return ServiceAccountOut(
        id=a.id, name=a.name, tenant=a.tenant, role=Role(a.role), created_at=a.created_at
    )


@router.get("", response_model=list[ServiceAccountOut])
async def list_service_accounts(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[ServiceAccountOut]:
    found = await services.accounts.list(caller.tenant(tenant), AccountKind.SERVICE)
    return [service_account_out(a) for a in found]


@router.post("", response_model=ServiceAccountOut, status_code=201)
async def create_service_account(
    body: ServiceAccountIn, caller: CallerAccess, services: Services
) -> ServiceAccountOut:
    tenant = caller.tenant(body.tenant, write=True)
    await services.tenant_must_exist(tenant)
    record = await services.accounts.create(
        tenant, body.name, kind=AccountKind.SERVICE, role=body.role
    )
    return service_account_out(record)


@router.patch("/{account_id}", response_model=ServiceAccountOut)
async def update_service_account(
    account_id: int, body: RolePatch, caller: CallerAccess, services: Services
) -> ServiceAccountOut:
    """Change a service account's role: its keys act with at most this role (within
    auth.key_cache_seconds), whatever role they were created with."""
    record = await set_role(services.accounts, account_id, AccountKind.SERVICE, body.role, caller)
    return service_account_out(record)


@router.delete("/{account_id}", status_code=204)
async def delete_service_account(
    account_id: int, caller: CallerAccess, services: Services
) -> Response:
    """Delete a service account and revoke its keys (within auth.key_cache_seconds)."""
    await delete_account(services.accounts, account_id, AccountKind.SERVICE, caller)
    return Response(status_code=204)
