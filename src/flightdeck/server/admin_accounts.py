"""``/admin/users`` and ``/admin/service-accounts``: the accounts of a tenant.

A user is an OAuth identity (``name`` plus the token's ``iss`` and ``sub``) whose registered role
overrides the role claim of their tokens; a service account owns API keys (``POST /admin/keys`` with
``service_account``) and deleting it revokes them. Same rules as every admin route: any role
reads its own tenant, admins write, platform admins manage every tenant; another tenant's
account answers 404, naming another tenant 403.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.responses import Response

from flightdeck.auth.accounts import AccountKind, AccountStore, registration_issuer
from flightdeck.auth.keys import Role
from flightdeck.core.errors import NotFound
from flightdeck.server.admin_access import Access, AdminServices, CallerAccess
from flightdeck.store.models_tenancy import Account

NAME_RULE = "1-63 lowercase letters, digits, '.', '_', '-' or '@'"


class UserIn(BaseModel):
    name: str = Field(description=NAME_RULE)
    subject: str = Field(description="the `sub` claim of the user's access tokens")
    issuer: str | None = Field(
        None,
        description="the `iss` of the user's tokens; default: the only configured issuer",
    )
    role: Role = Role.MEMBER
    tenant: str | None = Field(None, description="default: the caller's tenant")


class RolePatch(BaseModel):
    role: Role


class UserOut(BaseModel):
    id: int
    name: str
    subject: str
    issuer: str
    tenant: str
    role: Role
    created_at: datetime


class ServiceAccountIn(BaseModel):
    name: str = Field(description=NAME_RULE)
    role: Role = Field(Role.MEMBER, description="the most its keys may have")
    tenant: str | None = Field(None, description="default: the caller's tenant")


class ServiceAccountOut(BaseModel):
    id: int
    name: str
    tenant: str
    role: Role
    created_at: datetime


def user_out(a: Account) -> UserOut:
    return UserOut(
        id=a.id,
        name=a.name,
        subject=a.subject or "",
        issuer=a.issuer or "",
        tenant=a.tenant,
        role=Role(a.role),
        created_at=a.created_at,
    )


def service_account_out(a: Account) -> ServiceAccountOut:
    return ServiceAccountOut(
        id=a.id, name=a.name, tenant=a.tenant, role=Role(a.role), created_at=a.created_at
    )


async def service_account_named(accounts: AccountStore, name: str, tenant: str) -> Account:
    """The service account ``name`` of ``tenant`` (404 if there is none)."""
    found = await accounts.by_name(name, AccountKind.SERVICE, tenant)
    if not found:
        raise NotFound(
            f"service account {name!r} does not exist in tenant {tenant!r}",
            param="service_account",
            code="service_account_not_found",
        )
    return found[0]


def add_account_routes(app: FastAPI, services: AdminServices) -> None:
    accounts = services.accounts

    async def own_account(account_id: int, kind: AccountKind, caller: Access) -> Account:
        record = await accounts.get(account_id, kind)
        if record is None or not caller.sees(record.tenant):
            what = "user" if kind is AccountKind.USER else "service account"
            raise NotFound(f"{what} {account_id} does not exist", code=f"{kind.value}_not_found")
        return record

    async def set_role(account_id: int, kind: AccountKind, role: Role, caller: Access) -> Account:
        record = await own_account(account_id, kind, caller)
        caller.tenant(record.tenant, write=True)
        await accounts.set_role(account_id, role)
        record.role = role.value
        return record

    @app.get("/users", response_model=list[UserOut], tags=["users"])
    async def list_users(caller: CallerAccess, tenant: str | None = None) -> list[UserOut]:
        return [user_out(a) for a in await accounts.list(caller.tenant(tenant), AccountKind.USER)]

    @app.post("/users", response_model=UserOut, status_code=201, tags=["users"])
    async def create_user(body: UserIn, caller: CallerAccess) -> UserOut:
        """Register an OAuth user; their role here overrides their tokens' role claim."""
        tenant = caller.tenant(body.tenant, write=True)
        await services.tenant_must_exist(tenant)
        issuer = registration_issuer(services.oauth, body.issuer, tenant)
        record = await accounts.create(
            tenant,
            body.name,
            kind=AccountKind.USER,
            role=body.role,
            subject=body.subject,
            issuer=issuer,
        )
        return user_out(record)

    @app.patch("/users/{user_id}", response_model=UserOut, tags=["users"])
    async def update_user(user_id: int, body: RolePatch, caller: CallerAccess) -> UserOut:
        """Change a user's role; running servers apply it within auth.key_cache_seconds."""
        return user_out(await set_role(user_id, AccountKind.USER, body.role, caller))

    @app.delete("/users/{user_id}", status_code=204, tags=["users"])
    async def delete_user(user_id: int, caller: CallerAccess) -> Response:
        """Unregister a user: their tokens' role claim applies again."""
        record = await own_account(user_id, AccountKind.USER, caller)
        caller.tenant(record.tenant, write=True)
        await accounts.delete(user_id)
        return Response(status_code=204)

    @app.get("/service-accounts", response_model=list[ServiceAccountOut], tags=["service accounts"])
    async def list_service_accounts(
        caller: CallerAccess, tenant: str | None = None
    ) -> list[ServiceAccountOut]:
        found = await accounts.list(caller.tenant(tenant), AccountKind.SERVICE)
        return [service_account_out(a) for a in found]

    @app.post(
        "/service-accounts",
        response_model=ServiceAccountOut,
        status_code=201,
        tags=["service accounts"],
    )
    async def create_service_account(
        body: ServiceAccountIn, caller: CallerAccess
    ) -> ServiceAccountOut:
        tenant = caller.tenant(body.tenant, write=True)
        await services.tenant_must_exist(tenant)
        record = await accounts.create(tenant, body.name, kind=AccountKind.SERVICE, role=body.role)
        return service_account_out(record)

    @app.patch(
        "/service-accounts/{account_id}",
        response_model=ServiceAccountOut,
        tags=["service accounts"],
    )
    async def update_service_account(
        account_id: int, body: RolePatch, caller: CallerAccess
    ) -> ServiceAccountOut:
        """Change a service account's role: its keys act with at most this role (within
        auth.key_cache_seconds), whatever role they were created with."""
        record = await set_role(account_id, AccountKind.SERVICE, body.role, caller)
        return service_account_out(record)

    @app.delete("/service-accounts/{account_id}", status_code=204, tags=["service accounts"])
    async def delete_service_account(account_id: int, caller: CallerAccess) -> Response:
        """Delete a service account and revoke its keys (within auth.key_cache_seconds)."""
        record = await own_account(account_id, AccountKind.SERVICE, caller)
        caller.tenant(record.tenant, write=True)
        await accounts.delete(account_id)
        return Response(status_code=204)
