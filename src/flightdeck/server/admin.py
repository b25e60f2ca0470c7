"""The admin API under ``/admin`` (FastAPI, so it is OpenAPI-documented at /admin/openapi.json).

Every route authenticates the caller (API key or OAuth access token) and checks tenant and role
(``admin_access.py``): admins of the platform tenant manage every tenant; anyone else sees only
their own tenant, and only its admins change anything. A resource of another tenant answers 404,
a named other tenant 403, so nothing about other tenants leaks. Users and service accounts have
their routes in ``admin_accounts.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Mount

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import KeyStore, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.core.errors import FlightdeckError, InvalidRequest, NotFound
from flightdeck.core.settings import Settings
from flightdeck.core.tenancy_settings import LimitRule
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.experiments.store import ExperimentStore
from flightdeck.ledger.queries import GroupBy, UsageQuery, query_usage
from flightdeck.limits.policy import TENANT_SCOPE, Level, PolicyStore
from flightdeck.search.admin import collections_router
from flightdeck.search.collections import CollectionStore
from flightdeck.search.shares_admin import store_shares_router
from flightdeck.server.admin_access import Access, AdminServices, CallerAccess, caller_access
from flightdeck.server.admin_accounts import add_account_routes, service_account_named
from flightdeck.server.admin_console import console_router
from flightdeck.server.admin_experiments import experiments_router
from flightdeck.server.console_sources import ConsoleSources
from flightdeck.server.errors import error_body, handle_flightdeck_error, handle_http_exception
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey

# ---- wire types -------------------------------------------------------------------------------


class TenantIn(BaseModel):
    name: str = Field(description="lowercase letters, digits, '.', '_', '-'")
    display_name: str = ""


class TenantOut(BaseModel):
    name: str
    display_name: str
    created_at: datetime


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(
        None, description="default: the service account's role, else member; at most the account's"
    )
    tenant: str | None = Field(None, description="default: the caller's tenant")
    service_account: str | None = Field(
        None, description="a service account of the tenant that owns the key"
    )


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    tenant: str
    role: Role
    service_account: str | None = Field(None, description="the owning service account, if any")
    created_at: datetime
    revoked_at: datetime | None


class CreatedKey(KeyOut):
    key: str = Field(description="the API key itself; shown once, never stored")


class BudgetIn(LimitRule):
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
    tenant: str
    key_id: int | None
    level: Level = Level.CEILING


class UsageGroupOut(BaseModel):
    group: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float


class UsageOut(BaseModel):
    tenant: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: GroupBy
    data: list[UsageGroupOut]


def create_admin_app(services: AdminServices) -> FastAPI:
    app = FastAPI(
        title="Flightdeck admin API",
        version="1",
        description=(
            "Tenants, users, service accounts, API keys, limits and budgets, usage, search "
            "collections, experiments and the console's series. "
            "Bearer auth on every route."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    app.state.admin = services

    tenant_must_exist = services.tenant_must_exist

    @app.get("/tenants", response_model=list[TenantOut], tags=["tenants"])
    async def list_tenants(caller: CallerAccess) -> list[TenantOut]:
        tenants = await services.tenants.list()
        visible = [t for t in tenants if caller.platform_admin or t.name == caller.principal.tenant]
        return [
            TenantOut(name=t.name, display_name=t.display_name, created_at=t.created_at)
            for t in visible
        ]

    @app.post("/tenants", response_model=TenantOut, status_code=201, tags=["tenants"])
    async def create_tenant(body: TenantIn, caller: CallerAccess) -> TenantOut:
        caller.require_platform_admin()
        t = await services.tenants.create(body.name, body.display_name)
        return TenantOut(name=t.name, display_name=t.display_name, created_at=t.created_at)

    @app.get("/keys", response_model=list[KeyOut], tags=["keys"])
    async def list_keys(caller: CallerAccess, tenant: str | None = None) -> list[KeyOut]:
        records = await services.keys.list(tenant=caller.tenant(tenant))
        owners = await services.accounts.names({k.account_id for k in records if k.account_id})
        return [key_out(k, owners.get(k.account_id or 0)) for k in records]

    @app.post("/keys", response_model=CreatedKey, status_code=201, tags=["keys"])
    async def create_key(body: KeyIn, caller: CallerAccess) -> CreatedKey:
        tenant = caller.tenant(body.tenant, write=True)
        await tenant_must_exist(tenant)
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

    @app.delete("/keys/{key_id}", status_code=204, tags=["keys"])
    async def revoke_key(key_id: int, caller: CallerAccess) -> Response:
        record = await own_key(key_id, caller)
        caller.tenant(record.tenant, write=True)
        await services.keys.revoke(key_id)
        return Response(status_code=204)

    async def own_key(key_id: int, caller: Access) -> ApiKey:
        async with services.store.session() as session:
            record = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
        if record is None or not caller.sees(record.tenant):
            raise NotFound(f"key {key_id} does not exist", code="key_not_found")
        return record

    @app.get("/budgets", response_model=list[BudgetOut], tags=["budgets"])
    async def list_budgets(caller: CallerAccess, tenant: str | None = None) -> list[BudgetOut]:
        name = caller.tenant(tenant)
        rows = await services.policies.for_tenant(name)
        return [
            BudgetOut(
                tenant=name, key_id=None if k == TENANT_SCOPE else k, level=lv, **r.model_dump()
            )
            for k, lv, r in rows
        ]

    @app.put("/budgets", response_model=BudgetOut, tags=["budgets"])
    async def set_budget(body: BudgetIn, caller: CallerAccess) -> BudgetOut:
        tenant = caller.tenant(body.tenant, write=True)
        await tenant_must_exist(tenant)
        if body.key_id is not None:
            record = await own_key(body.key_id, caller)
            if record.tenant != tenant:
                raise InvalidRequest(
                    f"key {body.key_id} is not in tenant {tenant!r}", param="key_id"
                )
        rule = LimitRule.model_validate(body.model_dump(exclude={"tenant", "key_id", "level"}))
        level = await services.policies.set_as(
            tenant,
            rule,
            body.key_id or TENANT_SCOPE,
            platform_admin=caller.platform_admin,
            level=body.level,
        )
        return BudgetOut(tenant=tenant, key_id=body.key_id, level=level, **rule.model_dump())

    @app.get("/usage", response_model=UsageOut, tags=["usage"])
    async def usage(
        caller: CallerAccess,
        tenant: str | None = None,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
        group_by: GroupBy = GroupBy.MODEL,
    ) -> UsageOut:
        name = caller.tenant(tenant)
        now = datetime.now(UTC)
        end = aware(end) if end else now
        start = (
            aware(start) if start else end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        if end <= start:
            raise InvalidRequest("'to' must be after 'from'", param="to")
        if end - start > timedelta(days=3700):
            raise InvalidRequest("the range is longer than ten years", param="from")
        async with services.store.engine.connect() as conn:
            totals = await query_usage(conn, UsageQuery(name, start, end, group_by))
        data = [
            UsageGroupOut(**{f: getattr(t, f) for f in UsageGroupOut.model_fields}) for t in totals
        ]
        return UsageOut.model_validate(
            {"tenant": name, "from": start, "to": end, "group_by": group_by, "data": data}
        )

    add_account_routes(app, services)

    if services.collections is not None:
        app.include_router(
            collections_router(
                services.collections, services.tenants, caller_access, services.platform_tenant
            )
        )
        app.include_router(
            store_shares_router(services.collections.shares, services.tenants, caller_access)
        )

    if services.console is not None:
        app.include_router(console_router(services.store, services.console, caller_access))

    if services.experiments is not None:
        app.include_router(
            experiments_router(
                services.experiments,
                services.experiment_runtime,
                services.model_groups,
                caller_access,
            )
        )

    app.add_exception_handler(FlightdeckError, handle_flightdeck_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    return app


def admin_mount(
    settings: Settings,
    store: Store,
    keys: KeyStore,
    *,
    caller: CallerAuthenticator | None = None,
    policies: PolicyStore | None = None,
    experiment_runtime: ExperimentRuntime | None = None,
    console: ConsoleSources | None = None,
) -> Mount:
    """``/admin`` for ``create_app``; pass the app's caller and policies to share their caches."""
    accounts = AccountStore(store)
    if caller is None:
        caller = CallerAuthenticator.from_settings(settings.auth, keys, accounts)
    services = AdminServices(
        store=store,
        caller=caller,
        keys=keys,
        tenants=TenantStore(store, settings.auth.platform_tenant),
        policies=policies or PolicyStore(store, settings.limits),
        accounts=accounts,
        platform_tenant=settings.auth.platform_tenant,
        collections=CollectionStore(store, settings.search_roots),
        oauth=settings.auth.oauth,
        experiments=ExperimentStore(store),
        experiment_runtime=experiment_runtime,
        model_groups=tuple(settings.model_names()),
        console=console or ConsoleSources(settings=settings.console),
    )
    return Mount("/admin", app=create_admin_app(services))


def key_out(k: ApiKey, service_account: str | None = None) -> KeyOut:
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


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    body = error_body(message, "invalid_request_error", "invalid_parameter", param)
    return Response(body, status_code=400, media_type="application/json")
