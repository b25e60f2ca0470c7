"""API keys: created once and shown once, stored as SHA-256, looked up through a short cache."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.core.errors import (
    AuthenticationError,
    InvalidRequest,
    PermissionDenied,
    UpstreamUnavailable,
)
from flightdeck.core.lru import LruCache
from flightdeck.store.database import Store
from flightdeck.store.models import ApiKey, utcnow
from flightdeck.store.models_tenancy import Account

KEY_PREFIX = "fd-"
MAX_CACHED_KEYS = 100_000
SERVICE_KIND = "service"  # Account.kind of a service account (auth/accounts.py)


class Role(StrEnum):
    """What a caller may do in its tenant: admin, member or viewer."""

    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    def at_most(self, other: Role) -> bool:
        """Whether this role grants no more than ``other`` (viewer < member < admin)."""
        return _RANK[self] <= _RANK[other]


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request runs as: an API key (``key_id``) or an OAuth user (``user``, the token's
    ``sub``, with its ``issuer``: a subject means nothing without the issuer that made it)."""

    key_id: int | None
    name: str
    tenant: str
    role: Role
    user: str | None = None
    issuer: str | None = None


def require_spender(principal: Principal) -> None:
    """Model calls spend money: viewers may look (usage, keys, budgets), not call models."""
    if principal.role is Role.VIEWER:
        raise PermissionDenied(
            "Viewers can read usage, keys and budgets but cannot call models",
            code="role_forbidden",
        )


def service_user(account: str) -> str:
    """The ``user`` a service account's keys run as, and the ledger records."""
    return f"service:{account}"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash cannot be brute-forced; no salt needed.
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """API keys: created hashed, looked up with a short cache, revoked."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(
        self,
        name: str,
        *,
        role: Role = Role.MEMBER,
        tenant: str = "default",
        account_id: int | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key (of a service account, if ``account_id``); returns the record and the
        plaintext key (never stored)."""
        if not name.strip():
            raise InvalidRequest("a key needs a non-empty name", param="name")
        key = generate_key()
        record = ApiKey(
            name=name,
            prefix=key[:10],
            key_hash=hash_key(key),
            tenant=tenant,
            role=role.value,
            account_id=account_id,
        )
        async with self.store.session() as session, session.begin():
            session.add(record)
        return record, key

    async def list(self, *, tenant: str | None = None) -> list[ApiKey]:
        query = select(ApiKey).order_by(ApiKey.id)
        if tenant is not None:
            query = query.where(ApiKey.tenant == tenant)
        async with self.store.session() as session:
            return list((await session.scalars(query)).all())

    async def revoke(self, key_id: int) -> bool:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count(self) -> int:
        return len(await self.list())

    async def principal_for(self, key_hash: str) -> Principal | None:
        """Who the live (not revoked) key with this hash runs as, in one query: a service
        account's key runs as ``service:<account>``, with at most the account's role."""
        query = (
            select(ApiKey, Account.name, Account.role)
            .outerjoin(Account, (Account.id == ApiKey.account_id) & (Account.kind == SERVICE_KIND))
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
        async with self.store.session() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return None
        record, account, account_role = row
        if record.account_id is not None and account is None:
            return None  # its account is gone (deleting one revokes its keys; this is a race)
        role = Role(record.role)
        if account_role is not None and not role.at_most(Role(account_role)):
            role = Role(account_role)  # the account's role was lowered after the key was made
        user = service_user(account) if account is not None else None
        return Principal(record.id, record.name, record.tenant, role, user=user)


class Authenticator:
    """Turns an ``Authorization: Bearer`` header into a Principal.

    Lookups are cached for ``ttl`` seconds (hits and misses), so a revoked key stops working
    within ``ttl`` and an unknown key cannot hammer the database. The cache holds at most
    ``max_entries`` digests and evicts the least recently used one, so a flood of made-up keys
    cannot push the live ones out all at once.
    """

    def __init__(
        self,
        keys: KeyStore,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_CACHED_KEYS,
    ) -> None:
        self.keys = keys
        self.ttl = ttl
        self._clock = clock
        self._cache: LruCache[str, tuple[float, Principal | None]] = LruCache(max_entries)
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        digest = hash_key(_bearer(authorization))  # the cache never holds a key itself
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > self._clock():
            principal = hit[1]
        else:
            try:
                principal = await self._lookup(digest)
            except (SQLAlchemyError, OSError, TimeoutError):
                if hit is None:  # never seen and cannot be checked now
                    raise UpstreamUnavailable(
                        "API keys cannot be checked right now; try again shortly",
                        code="auth_unavailable",
                    ) from None
                principal = hit[1]  # the store is down: the last answer stands
        if principal is None:
            raise AuthenticationError("Incorrect API key provided")
        return principal

    def has_cached_callers(self) -> bool:
        """Whether some key is cached as valid: while the store is down, those callers are
        still authenticated from the cache (for /readyz)."""
        return any(principal is not None for _, principal in self._cache.values())

    async def _lookup(self, digest: str) -> Principal | None:
        """One database query per key however many requests miss the cache at once."""
        pending = self._pending.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(digest))
            self._pending[digest] = pending
            pending.add_done_callback(lambda _: self._pending.pop(digest, None))
        return await asyncio.shield(pending)

    async def _fetch(self, digest: str) -> Principal | None:
        principal = await self.keys.principal_for(digest)
        self._cache.put(digest, (self._clock() + self.ttl, principal))
        return principal


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError(
            "Missing API key: send it as 'Authorization: Bearer <key>'",
            code="missing_api_key",
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Authorization header must be 'Bearer <key>'")
    return token
