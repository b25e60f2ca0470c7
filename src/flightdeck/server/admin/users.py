"""``/admin/users``: OAuth identities of a tenant whose registered role overrides their tokens'."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from flightdeck.auth.accounts import AccountKind, registration_issuer
from flightdeck.auth.keys import Role
from flightdeck.server.admin.access import CallerAccess, Services
from flightdeck.server.admin.accounts import NAME_RULE, RolePatch, delete_account, set_role
from flightdeck.store.models_tenancy import Account

router = APIRouter(prefix="/users", tags=["users"])


class UserIn(BaseModel):
    """A user to register."""

    name: str = Field(description=NAME_RULE)
    subject: str = Field(description="the `sub` claim of the user's access tokens")
    issuer: str | None = Field(
        None,
        description="the `iss` of the user's tokens; default: the only configured issuer",
    )
    role: Role = Role.MEMBER
    tenant: str | None = Field(None, description="default: the caller's tenant")


class UserOut(BaseModel):
    """A registered user."""

    id: int
    name: str
    subject: str
    issuer: str
    tenant: str
    role: Role
    created_at: datetime


def user_out(a: Account) -> UserOut:
    """``a`` as the API shows a user."""
    return UserOut(
        id=a.id,
        name=a.name,
        subject=a.subject or "",
        issuer=a.issuer or "",
        tenant=a.tenant,
        role=Role(a.role),
        created_at=a.created_at,
    )


@router.get("", response_model=list[UserOut])
async def list_users(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[UserOut]:
    found = await services.accounts.list(caller.tenant(tenant), AccountKind.USER)
    return [user_out(a) for a in found]


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserIn, caller: CallerAccess, services: Services) -> UserOut:
    """Register an OAuth user; their role here overrides their tokens' role claim."""
    tenant = caller.tenant(body.tenant, write=True)
    await services.tenant_must_exist(tenant)
    issuer = registration_issuer(services.oauth, body.issuer, tenant)
    record = await services.accounts.create(
        tenant,
        body.name,
        kind=AccountKind.USER,
        role=body.role,
        subject=body.subject,
        issuer=issuer,
    )
    return user_out(record)


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: int, body: RolePatch, caller: CallerAccess, services: Services
) -> UserOut:
    """Change a user's role; running servers apply it within auth.key_cache_seconds."""
    record = await set_role(services.accounts, user_id, AccountKind.USER, body.role, caller)
    return user_out(record)


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: int, caller: CallerAccess, services: Services) -> Response:
    """Unregister a user: their tokens' role claim applies again."""
    await delete_account(services.accounts, user_id, AccountKind.USER, caller)
    return Response(status_code=204)
