"""Tenants (teams): every key, account, budget and usage record belongs to one, by name.

A tenant name is 1-63 lowercase ASCII letters, digits, ``.``, ``_`` or ``-``. Names that the
platform uses for itself are reserved (``RESERVED_TENANT_NAMES`` and the configured platform
tenant, which exists without a row), and a name is compared after Unicode NFKC normalisation and
case folding, so ``ADMIN``, a fullwidth ``admin`` or ``Default`` cannot take a reserved name or
pass for an existing tenant.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.tenancy_settings import TENANT_NAME_SHAPE
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Tenant

TENANT_NAME = TENANT_NAME_SHAPE
# Names a tenant may never take: the default platform tenant, words that read as the platform
# itself in logs, paths and UIs, and folder names of the search roots' layout.
RESERVED_TENANT_NAMES = frozenset(
    {
        "default",
        "admin",
        "administrator",
        "root",
        "system",
        "platform",
        "flightdeck",
        "internal",
        "public",
        "shared",
        "global",
        "all",
        "any",
        "everyone",
        "anonymous",
        "none",
        "null",
        "api",
        "v1",
    }
)


def normalise_tenant_name(name: str) -> str:
    """The form two names are compared in: NFKC (fullwidth, ligatures) then case folding."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def check_tenant_name(name: str) -> str:
    """``name`` if it is a well-formed tenant name (400 otherwise; reserved names not checked)."""
    if not TENANT_NAME.fullmatch(name):
        normal = normalise_tenant_name(name)
        hint = f" (did you mean {normal!r}?)" if TENANT_NAME.fullmatch(normal) else ""
        raise InvalidRequest(
            "a tenant name is 1-63 characters: lowercase letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit{hint}",
            param="name",
        )
    return name


class TenantExists(InvalidRequest):
    """A tenant of that name already exists (409)."""

    status = 409
    code = "tenant_exists"


class TenantNameReserved(InvalidRequest):
    """The tenant name is reserved (400)."""

    code = "tenant_name_reserved"


class TenantStore:
    """Tenants in the database. The platform tenant (``platform_tenant``) exists without a row
    and its name can never be created again."""

    def __init__(self, store: Store, platform_tenant: str = "default") -> None:
        self.store = store
        self.platform_tenant = platform_tenant

    def check_new_name(self, name: str) -> str:
        """The name a new tenant would get: well-formed and not reserved (400/409 otherwise)."""
        normal = normalise_tenant_name(name)
        if normal == normalise_tenant_name(self.platform_tenant):
            raise TenantExists(
                f"tenant {normal!r} already exists (it is the platform tenant)", param="name"
            )
        if normal in RESERVED_TENANT_NAMES:
            raise TenantNameReserved(f"the tenant name {normal!r} is reserved", param="name")
        return check_tenant_name(name)

    async def create(self, name: str, display_name: str = "") -> Tenant:
        """Create a tenant (400 for a malformed or reserved name, 409 if it exists)."""
        record = Tenant(name=self.check_new_name(name), display_name=display_name or name)
        try:
            async with self.store.session() as session, session.begin():
                session.add(record)
        except IntegrityError:
            raise TenantExists(f"tenant {name!r} already exists", param="name") from None
        return record

    async def list(self) -> list[Tenant]:
        async with self.store.session() as session:
            return list((await session.scalars(select(Tenant).order_by(Tenant.name))).all())

    async def get(self, name: str) -> Tenant | None:
        async with self.store.session() as session:
            return await session.scalar(select(Tenant).where(Tenant.name == name))

    async def exists(self, name: str) -> bool:
        """Whether ``name`` is a tenant: the platform tenant, or one with a row."""
        return name == self.platform_tenant or await self.get(name) is not None
