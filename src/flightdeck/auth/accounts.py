"""Accounts of a tenant: users (OAuth identities, matched by the token's ``iss`` and ``sub``
together) and service accounts (robots that own API keys). Names are unique within a tenant.

A subject is only unique within its issuer (OpenID Connect Core 1.0, section 5.7: "The sub
(subject) and iss (issuer) Claims, used together, are the only Claims that an RP can rely upon as
a stable identifier"), so a user is registered as (issuer, subject) and two identity providers
that happen to issue the same ``sub`` name two different users.

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
from flightdeck.core.tenancy_settings import OAuthSettings
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey, utcnow
from flightdeck.store.models_tenancy import Account

ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,62}$")
MAX_SUBJECT = 255
MAX_ISSUER = 500
LEGACY_ISSUER = ""  # users registered before issuer binding, until auth/legacy.py adopts them


class AccountKind(StrEnum):
    """What an account is: an OAuth user or a service account that owns API keys."""

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


def check_issuer(issuer: str) -> str:
    if (
        not issuer
        or len(issuer) > MAX_ISSUER
        or not issuer.isprintable()
        or issuer != issuer.strip()
    ):
        raise InvalidRequest(
            f"an issuer is the exact `iss` of a configured issuer (1-{MAX_ISSUER} characters)",
            param="issuer",
        )
    return issuer


def registration_issuer(oauth: OAuthSettings, issuer: str | None, tenant: str) -> str:
    """The issuer a new user of ``tenant`` is registered under: ``issuer``, else the only
    configured one. 400 when none can be chosen, the issuer is not configured, or it is not bound
    to the tenant (a registration it could never use). With no issuer configured at all, an
    explicitly named one is taken as given (tokens are not accepted until it is configured)."""
    if issuer is None:
        if len(oauth.issuers) != 1:
            known = ", ".join(repr(i.issuer) for i in oauth.issuers) or "none configured"
            raise InvalidRequest(
                f"name the `issuer` of the user's tokens (configured: {known})", param="issuer"
            )
        issuer = oauth.issuers[0].issuer
    check_issuer(issuer)
    if not oauth.issuers:
        return issuer
    configured = oauth.issuer(issuer)
    if configured is None:
        raise InvalidRequest(
            f"issuer {issuer!r} is not configured ([[auth.oauth.issuers]])", param="issuer"
        )
    if not configured.may_speak_for(tenant):
        raise InvalidRequest(
            f"issuer {issuer!r} may not speak for tenant {tenant!r} (its `tenants` setting)",
            param="issuer",
        )
    return issuer


class AccountExists(InvalidRequest):
    """An account of that name already exists in the tenant (409)."""

    status = 409
    code = "account_exists"


class AccountStore:
    """Users and service accounts of every tenant, in the database."""

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
        issuer: str | None = None,
    ) -> Account:
        """Create an account; a user needs ``subject`` and ``issuer`` (400), a free name and a
        free (issuer, subject) in the tenant (409)."""
        check_account_name(name)
        if kind is AccountKind.USER:
            subject = check_subject(subject or "")
            issuer = check_issuer(issuer or "")
        elif subject is not None or issuer is not None:
            raise InvalidRequest("only users have a subject and an issuer", param="subject")
        record = Account(
            tenant=tenant,
            name=name,
            kind=kind.value,
            role=role.value,
            subject=subject,
            issuer=issuer,
        )
        try:
            async with self.store.session() as session, session.begin():
                if subject is not None and await session.scalar(
                    select(Account.id).where(
                        Account.tenant == tenant,
                        Account.kind == AccountKind.USER.value,
                        Account.issuer == issuer,
                        Account.subject == subject,
                    )
                ):
                    raise AccountExists(
                        f"a user with subject {subject!r} of issuer {issuer!r} already exists "
                        f"in tenant {tenant!r}",
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

    async def user_role(self, tenant: str, issuer: str, subject: str) -> Role | None:
        """The registered role of the user (``iss``, ``sub``) in this tenant, if registered."""
        async with self.store.session() as session:
            role = await session.scalar(
                select(Account.role)
                .where(
                    Account.tenant == tenant,
                    Account.kind == AccountKind.USER.value,
                    Account.issuer == issuer,
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
