"""``/admin/budgets``: limits and budgets of a tenant or one of its keys, at two levels."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.tenancy_settings import LimitRule
from flightdeck.limits.policy import TENANT_SCOPE, Level
from flightdeck.server.admin.access import CallerAccess, Services
from flightdeck.server.admin.keys import own_key

router = APIRouter(prefix="/budgets", tags=["budgets"])


class BudgetIn(LimitRule):
    """Limits to set for a tenant, or for one key with ``key_id``."""

    tenant: str | None = Field(None, description="default: the caller's tenant")
    key_id: int | None = Field(None, description="set for one key; omit for the whole tenant")
    level: Level | None = Field(
        None,
        description=(
            "ceiling (platform admins; their default) or tenant (tenant admins: never above "
            "the ceiling); the stricter of the two applies"
        ),
    )


class BudgetOut(LimitRule):
    """Limits stored for a tenant or key, at one level."""

    tenant: str
    key_id: int | None
    level: Level = Level.CEILING


@router.get("", response_model=list[BudgetOut])
async def list_budgets(
    caller: CallerAccess, services: Services, tenant: str | None = None
) -> list[BudgetOut]:
    name = caller.tenant(tenant)
    rows = await services.policies.for_tenant(name)
    return [
        BudgetOut(tenant=name, key_id=None if k == TENANT_SCOPE else k, level=lv, **r.model_dump())
        for k, lv, r in rows
    ]


@router.put("", response_model=BudgetOut)
async def set_budget(body: BudgetIn, caller: CallerAccess, services: Services) -> BudgetOut:
    tenant = caller.tenant(body.tenant, write=True)
    await services.tenant_must_exist(tenant)
    if body.key_id is not None:
        record = await own_key(services, body.key_id, caller)
        if record.tenant != tenant:
            raise InvalidRequest(f"key {body.key_id} is not in tenant {tenant!r}", param="key_id")
    rule = LimitRule.model_validate(body.model_dump(exclude={"tenant", "key_id", "level"}))
    level = await services.policies.set_as(
        tenant,
        rule,
        body.key_id or TENANT_SCOPE,
        platform_admin=caller.platform_admin,
        level=body.level,
    )
    return BudgetOut(tenant=tenant, key_id=body.key_id, level=level, **rule.model_dump())
