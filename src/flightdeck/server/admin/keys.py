"""``/admin/keys``: API keys of a tenant, optionally owned by one of its service accounts."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import Response

from flightdeck.auth.keys import Role
from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.server.admin.access import Access, AdminServices, CallerAccess, Services
from flightdeck.server.admin.accounts import service_account_named
from flightdeck.store.models import ApiKey

router = APIRouter(prefix="/keys", tags=["keys"])


class KeyIn(BaseModel):
    """An API key to create."""

    name: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(
        None, description="default: the service account's role, else member; at most the account's"
    )
    tenant: str | None = Field(None, description="default: the caller's tenant")
    service_account: str | None = Field(
        None, description="a service account of the tenant that owns the key"
    )


class KeyOut(BaseModel):
    """An API key as the API shows it (never the key itself)."""

    id: int
    name: str
    prefix: str
    tenant: str
    role: Role
    service_account: str | None = Field(None, description="the owning service account, if any")
    created_at: datetime
    revoked_at: datetime | None


class CreatedKey(KeyOut):
    """A key just created: the only time the key itself is shown."""

    key: str = Field(description="the API key itself; shown once, never stored")


def key_out(k: ApiKey, service_account: str | None = None) -> KeyOut:
    """``k`` as the API shows it, with the name of its owning service account."""
    return KeyOut(
        id=k.id,
        name=k.name,
        prefix=k.prefix,
        tenant=k.tenant,
        role=Role(k.role),
        service_account=service_account,
        created_at=k.created_at,
        revoked_at=k.revoked_at,
    )


async def own_key(services: AdminServices, key_id: int, caller: Access) -> ApiKey:
    """Key ``key_id`` if the caller sees its tenant; 404 otherwise (whether or not it exists)."""
    async with services.store.session() as session:
        record = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if record is None or not caller.sees(record.tenant):
        raise NotFound(f"key {key_id} does not exist", code="key_not_found")
    return record


@router.get("", response_model=list[KeyOut])
async def list_keys(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[KeyOut]:
    records = await services.keys.list(tenant=caller.tenant(tenant))
    owners = await services.accounts.names({k.account_id for k in records if k.account_id})
    return [key_out(k, owners.get(k.account_id or 0)) for k in records]


@router.post("", response_model=CreatedKey, status_code=201)
async def create_key(body: KeyIn, caller: CallerAccess, services: Services) -> CreatedKey:
    tenant = caller.tenant(body.tenant, write=True)
    await services.tenant_must_exist(tenant)
    role, account = body.role or Role.MEMBER, None
    if body.service_account is not None:
        account = await service_account_named(services.accounts, body.service_account, tenant)
        role = body.role or Role(account.role)
        if not role.at_most(Role(account.role)):
            raise InvalidRequest(
                f"role {role.value!r} exceeds the service account's role {account.role!r}",
                param="role",
            )
    account_id = account.id if account is not None else None
    record, key = await services.keys.create(
        body.name, role=role, tenant=tenant, account_id=account_id
    )
    owner = account.name if account is not None else None
    return CreatedKey(**key_out(record, owner).model_dump(), key=key)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: int, caller: CallerAccess, services: Services) -> Response:
    record = await own_key(services, key_id, caller)
    caller.tenant(record.tenant, write=True)
    await services.keys.revoke(key_id)
    return Response(status_code=204)
