"""Who may touch what in the admin API: the caller, its tenant and role; the typed dependencies
(``CallerAccess``, ``Services``) every admin route takes.

Admins of the platform tenant manage every tenant; anyone else sees only their own tenant, and
only its admins change anything. Routes answer 404 for a resource of another tenant and 403 for
a named other tenant, so nothing about other tenants leaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import KeyStore, Principal, Role
from flightdeck.auth.tenants import TenantStore
from flightdeck.cache import ResponseCache
from flightdeck.core.errors import NotFound, PermissionDenied
from flightdeck.core.tenancy_settings import OAuthSettings
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.experiments.store import ExperimentStore
from flightdeck.limits.policy import PolicyStore
from flightdeck.search.collections import CollectionStore
from flightdeck.server.console_sources import ConsoleSources
from flightdeck.store.database import Store


@dataclass
class AdminServices:
    """What the admin routes work on; the app holds it as ``app.state.admin``."""

    store: Store
    caller: CallerAuthenticator
    keys: KeyStore
    tenants: TenantStore
    policies: PolicyStore
    accounts: AccountStore
    collections: CollectionStore
    experiments: ExperimentStore
    platform_tenant: str = "default"
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    experiment_runtime: ExperimentRuntime | None = None
    model_groups: tuple[str, ...] = ()
    console: ConsoleSources = field(default_factory=ConsoleSources)
    cache: ResponseCache | None = None

    async def tenant_must_exist(self, name: str) -> None:
        """404 unless tenant ``name`` exists (the platform tenant always does)."""
        if name != self.platform_tenant and await self.tenants.get(name) is None:
            raise NotFound(f"tenant {name!r} does not exist", code="tenant_not_found")


class Access:
    """The caller and what it may touch."""

    def __init__(self, principal: Principal, platform_tenant: str) -> None:
        self.principal = principal
        self.platform_admin = principal.role is Role.ADMIN and principal.tenant == platform_tenant

    def tenant(self, requested: str | None, *, write: bool = False) -> str:
        """The tenant a request acts on, if the caller may (403 otherwise)."""
        tenant = requested or self.principal.tenant
        if not self.platform_admin and tenant != self.principal.tenant:
            raise PermissionDenied(f"You cannot access tenant {tenant!r}", code="tenant_forbidden")
        if write and not self.platform_admin and self.principal.role is not Role.ADMIN:
            raise PermissionDenied("This needs the admin role", code="role_forbidden")
        return tenant

    def sees(self, tenant: str) -> bool:
        """Whether a resource of ``tenant`` exists for this caller (404 for it otherwise)."""
        return self.platform_admin or tenant == self.principal.tenant

    def require_platform_admin(self) -> None:
        """403 unless the caller is an admin of the platform tenant."""
        if not self.platform_admin:
            raise PermissionDenied("Only platform admins manage tenants", code="role_forbidden")


def admin_services(request: Request) -> AdminServices:
    """The admin app's services (a FastAPI dependency)."""
    services: AdminServices = request.app.state.admin
    return services


async def caller_access(request: Request) -> Access:
    """Authenticates every admin route (a FastAPI dependency)."""
    services = admin_services(request)
    principal = await services.caller.authenticate(
        request.headers.get("authorization"), request.query_params
    )
    return Access(principal, services.platform_tenant)


CallerAccess = Annotated[Access, Depends(caller_access)]
"""The authenticated caller of an admin route and what it may touch."""

Services = Annotated[AdminServices, Depends(admin_services)]
"""The admin app's services."""
