"""Explicit shares of media stores: a platform admin opens one store to one tenant.

A store belongs to the tenant whose folder holds it (``search/ownership.py``); a share is the
only way for another tenant to use it. Each share has a name, unique in the receiving tenant,
by which its users refer to the store (``shared:<name>``) without learning where it lies.
Deleting a share closes the store to that tenant at once: its collections over the store stop
answering (403), they are not deleted.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.search.ownership import locate_uri
from flightdeck.store.database import Store
from flightdeck.store.models_tenancy import StoreShare

SHARE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_share_name(name: str) -> str:
    if not SHARE_NAME.fullmatch(name):
        raise InvalidRequest(
            f"{name!r} is not a share name: 1-63 characters, lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter or digit",
            param="name",
        )
    return name


class ShareExists(InvalidRequest):
    """A share of that name already exists for the tenant (409)."""

    status = 409
    code = "share_exists"


def share_not_found(name: str) -> NotFound:
    return NotFound(f"no store is shared as {name!r}", code="share_not_found")


class ShareStore:
    """Shares in the database, looked up by (tenant, name) or (tenant, canonical URI)."""

    def __init__(self, store: Store, roots: Sequence[str]) -> None:
        self.store = store
        self.roots = list(roots)

    async def create(
        self, tenant: str, uri: str, name: str | None = None, created_by: str = ""
    ) -> StoreShare:
        """Share the store at ``uri`` (under a root, 400 otherwise) with ``tenant`` as ``name``
        (default: its folder's name). 409 if the tenant has a share of that name or store."""
        location = await asyncio.to_thread(locate_uri, uri, self.roots)
        if location.owner == tenant:
            raise InvalidRequest(
                f"the store already belongs to tenant {tenant!r}", param="tenant", code="own_store"
            )
        name = check_share_name(name or location.uri.rstrip("/").rsplit("/", 1)[-1])
        record = StoreShare(tenant=tenant, name=name, uri=location.uri, created_by=created_by)
        try:
            async with self.store.session() as session, session.begin():
                session.add(record)
        except IntegrityError:
            raise ShareExists(
                f"tenant {tenant!r} already has a share named {name!r} or of this store",
                param="name",
            ) from None
        return record

    async def list(self, tenant: str | None) -> list[StoreShare]:
        """The shares of ``tenant`` (of every tenant when None), by tenant and name."""
        query = select(StoreShare).order_by(StoreShare.tenant, StoreShare.name)
        if tenant is not None:
            query = query.where(StoreShare.tenant == tenant)
        async with self.store.session() as session:
            return list((await session.scalars(query)).all())

    async def named(self, tenant: str, name: str) -> StoreShare:
        """The tenant's share called ``name`` (404 if there is none)."""
        async with self.store.session() as session:
            found = await session.scalar(
                select(StoreShare).where(StoreShare.tenant == tenant, StoreShare.name == name)
            )
        if found is None:
            raise share_not_found(name)
        return found

    async def of_store(self, tenant: str, uri: str) -> StoreShare | None:
        """The share that opens the store at canonical ``uri`` to ``tenant``, if any."""
        async with self.store.session() as session:
            return await session.scalar(
                select(StoreShare).where(StoreShare.tenant == tenant, StoreShare.uri == uri)
            )

    async def delete(self, tenant: str, name: str) -> None:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                delete(StoreShare).where(StoreShare.tenant == tenant, StoreShare.name == name)
            )
        if not getattr(result, "rowcount", 0):
            raise share_not_found(name)
