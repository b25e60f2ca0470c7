"""The admin FastAPI app: every resource router, the error handlers, and its ``/admin`` mount.

Adding a resource is one module in this package with a module-level ``router`` (typed
dependencies from ``access.py``) and one line in :data:`ROUTERS`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.routing import Mount

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import KeyStore
from flightdeck.auth.tenants import TenantStore
from flightdeck.cache import ResponseCache
from flightdeck.core.settings import Settings
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.experiments.store import ExperimentStore
from flightdeck.limits.policy import PolicyStore
from flightdeck.search.collections import CollectionStore
from flightdeck.server.admin import (
    budgets,
    cache,
    collections,
    console,
    console_experiments,
    experiments,
    keys,
    service_accounts,
    store_shares,
    tenants,
    usage,
    users,
)
from flightdeck.server.admin.access import AdminServices
from flightdeck.server.admin.docs import add_docs_routes
from flightdeck.server.console_sources import ConsoleSources
from flightdeck.server.errors import error_body, exception_handlers
from flightdeck.server.strict_json import StrictJSON
from flightdeck.store.database import Store

# In this order in the OpenAPI document.
ROUTERS: tuple[APIRouter, ...] = (
    tenants.router,
    keys.router,
    budgets.router,
    usage.router,
    users.router,
    service_accounts.router,
    collections.router,
    store_shares.router,
    experiments.router,
    console.router,
    console_experiments.router,
    cache.router,
)


def create_admin_app(services: AdminServices) -> FastAPI:
    """The admin API over ``services`` (reachable by its routes as ``app.state.admin``)."""
    app = FastAPI(
        title="Flightdeck admin API",
        version="1",
        description=(
            "Tenants, users, service accounts, API keys, limits and budgets, usage, search "
            "collections, experiments, the response cache and the console's series. "
            "Bearer auth on every route."
        ),
        openapi_url=None,  # served by add_docs_routes, to admins only
        docs_url=None,
        redoc_url=None,
    )
    app.state.admin = services
    for router in ROUTERS:
        app.include_router(router)
    add_docs_routes(app)
    for kind, handler in exception_handlers().items():  # the same mapping as the rest
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_middleware(StrictJSON)  # NaN, Infinity, 1e400, 10**30 in a body: 400
    return app


def admin_mount(
    settings: Settings,
    store: Store,
    keys: KeyStore,
    *,
    caller: CallerAuthenticator | None = None,
    policies: PolicyStore | None = None,
    experiment_runtime: ExperimentRuntime | None = None,
    console_sources: ConsoleSources | None = None,
    response_cache: ResponseCache | None = None,
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
        collections=CollectionStore(store, settings.search_roots),
        experiments=ExperimentStore(store),
        platform_tenant=settings.auth.platform_tenant,
        oauth=settings.auth.oauth,
        experiment_runtime=experiment_runtime,
        model_groups=tuple(settings.model_names()),
        console=console_sources or ConsoleSources(settings=settings.console),
        cache=response_cache,
    )
    return Mount("/admin", app=create_admin_app(services))


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """A request FastAPI could not validate: 400 in the OpenAI error shape, naming the field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    body = error_body(message, "invalid_request_error", "invalid_parameter", param)
    return Response(body, status_code=400, media_type="application/json")
