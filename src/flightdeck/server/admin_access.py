"""Who may touch what in the admin API: the caller, its tenant and role (a FastAPI dependency).

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
    store: Store
    caller: CallerAuthenticator
    keys: KeyStore
    tenants: TenantStore
    policies: PolicyStore
    accounts: AccountStore
    platform_tenant: str = "default"
    collections: CollectionStore | None = None
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    experiments: ExperimentStore | None = None
    experiment_runtime: ExperimentRuntime | None = None
    model_groups: tuple[str, ...] = ()
    console: ConsoleSources | None = None

    async def tenant_must_exist(self, name: str) -> None:
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
        if not self.platform_admin:
            raise PermissionDenied("Only platform admins manage tenants", code="role_forbidden")


async def caller_access(request: Request) -> Access:
    """Authenticates every admin route (a FastAPI dependency)."""
    services: AdminServices = request.app.state.admin
    principal = await services.caller.authenticate(
        request.headers.get("authorization"), request.query_params
    )
    return Access(principal, services.platform_tenant)


CallerAccess = Annotated[Access, Depends(caller_access)]
