"""Accounts of a tenant: users (OAuth identities, matched by the token's ``sub``) and service
accounts (robots that own API keys). Names are unique within a tenant.

A registered user's role is authoritative over the role claim of their access tokens
(``auth/user_roles.py``); a service account's keys authenticate as ``service:<name>``, so usage is
attributed to the account, and deleting the account revokes its keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from flightdeck.auth.keys import SERVICE_KIND, Role
from flightdeck.core.errors import InvalidRequest
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey, utcnow
from flightdeck.store.models_tenancy import Account

ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,62}$")
MAX_SUBJECT = 255


class AccountKind(StrEnum):
    USER = "user"
    SERVICE = SERVICE_KIND


def check_account_name(name: str) -> str:
    if not ACCOUNT_NAME.fullmatch(name):  # match() would let "ci\n" through ($)
        raise InvalidRequest(
            "an account name is 1-63 characters: lowercase letters, digits, '.', '_', '-' or "
            "'@', starting with a letter or digit",
            param="name",
        )
    return name


def check_subject(subject: str) -> str:
    """The OAuth ``sub`` a user is matched by: kept exactly, so it must be plain text."""
    if not subject or len(subject) > MAX_SUBJECT or subject.strip() != subject:
        raise InvalidRequest(
            f"a subject is 1-{MAX_SUBJECT} characters without surrounding spaces", param="subject"
        )
    if not subject.isprintable():
        raise InvalidRequest("a subject has no control characters", param="subject")
    return subject


class AccountExists(InvalidRequest):
    status = 409
    code = "account_exists"


class AccountStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(
        self,
        tenant: str,
        name: str,
        *,
        kind: AccountKind,
        role: Role = Role.MEMBER,
        subject: str | None = None,
    ) -> Account:
        check_account_name(name)
        if kind is AccountKind.USER:
            subject = check_subject(subject or "")
        elif subject is not None:
            raise InvalidRequest("only users have a subject", param="subject")
        record = Account(
            tenant=tenant, name=name, kind=kind.value, role=role.value, subject=subject
        )
        try:
            async with self.store.session() as session, session.begin():
                if subject is not None and await session.scalar(
                    select(Account.id).where(
                        Account.tenant == tenant,
                        Account.kind == AccountKind.USER.value,
                        Account.subject == subject,
                    )
                ):
                    raise AccountExists(
                        f"a user with subject {subject!r} already exists in tenant {tenant!r}",
                        param="subject",
                    )
                session.add(record)
        except IntegrityError:  # a concurrent create won the race for the name or the subject
            raise AccountExists(
                f"account {name!r} or its subject already exists in tenant {tenant!r}",
                param="name",
            ) from None
        return record

    async def list(self, tenant: str, kind: AccountKind) -> list[Account]:
        query = (
            select(Account)
            .where(Account.tenant == tenant, Account.kind == kind.value)
            .order_by(Account.name)
        )
        async with self.store.session() as session:
            return list((await session.scalars(query)).all())

    async def get(self, account_id: int, kind: AccountKind) -> Account | None:
        async with self.store.session() as session:
            return await session.scalar(
                select(Account).where(Account.id == account_id, Account.kind == kind.value)
            )

    async def by_name(self, name: str, kind: AccountKind, tenant: str | None) -> Sequence[Account]:
        """Accounts with this name: in ``tenant``, or in every tenant when it is None."""
        query = select(Account).where(Account.name == name, Account.kind == kind.value)
        if tenant is not None:
            query = query.where(Account.tenant == tenant)
        async with self.store.session() as session:
            return list((await session.scalars(query.order_by(Account.tenant))).all())

    async def names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        async with self.store.session() as session:
            rows = await session.execute(
                select(Account.id, Account.name).where(Account.id.in_(ids))
            )
            return {row.id: row.name for row in rows}

    async def user_role(self, tenant: str, subject: str) -> Role | None:
        """The registered role of the user with this ``sub`` in this tenant, if registered."""
        async with self.store.session() as session:
            role = await session.scalar(
                select(Account.role)
                .where(
                    Account.tenant == tenant,
                    Account.kind == AccountKind.USER.value,
                    Account.subject == subject,
                )
                .order_by(Account.id)
                .limit(1)
            )
        return Role(role) if role is not None else None

    async def set_role(self, account_id: int, role: Role) -> None:
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(Account).where(Account.id == account_id).values(role=role.value)
            )

    async def delete(self, account_id: int) -> int:
        """Delete an account and revoke its keys, at once; returns how many keys were revoked."""
        async with self.store.session() as session, session.begin():
            revoked = await session.execute(
                update(ApiKey)
                .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            await session.execute(delete(Account).where(Account.id == account_id))
        return int(revoked.rowcount)  # type: ignore[attr-defined]
