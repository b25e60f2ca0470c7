"""Tenants (teams): every key, account, budget and usage record belongs to one, by name."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flightdeck.core.errors import InvalidRequest
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import Tenant

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise InvalidRequest(
            "a tenant name is 1-63 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            param="name",
        )
    return name


class TenantExists(InvalidRequest):
    status = 409
    code = "tenant_exists"


class TenantStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, name: str, display_name: str = "") -> Tenant:
        record = Tenant(name=check_tenant_name(name), display_name=display_name or name)
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
