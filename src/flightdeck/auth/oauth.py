"""OAuth2 access tokens as a resource server (RFC 9068 JWT profile, RFC 8725 practices).

Checks, in order: shape, ``typ`` is ``at+jwt`` (so ID tokens are refused), ``alg`` is one the
token's issuer is configured for (so ``none`` and HS256-with-a-public-key never verify), ``kid``
is plain, the key comes from that issuer's configured JWKS and fits the algorithm, then the
signature and ``iss``/``aud``/``exp``/``nbf``/``iat``/``sub`` with a small leeway. Tenant and role
come from configured claims. Every rejection is the same 401 ("Invalid access token"); the reason
is logged at debug level, never the token.

An issuer speaks only for the tenants it is bound to (``tenants`` in its configuration): a valid
token naming any other tenant is refused with 403. A role claim never makes anyone a platform
admin (an admin of the platform tenant) unless the issuer is trusted for that
(``platform_admin = true``): from any other issuer, an admin claim there counts as member.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import jwt

from flightdeck.auth.jwks import JwksCache
from flightdeck.auth.keys import Role
from flightdeck.core.errors import AuthenticationError, PermissionDenied
from flightdeck.core.tenancy_settings import OAuthIssuer, OAuthSettings

log = logging.getLogger("flightdeck.auth")

ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
MAX_TOKEN_BYTES = 16 * 1024
SAFE_KID = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
SAFE_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,199}$")
JWT_SHAPE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$")
ROLE_ORDER = [Role.ADMIN, Role.MEMBER, Role.VIEWER]


class TokenRejected(Exception):
    """Why a token was refused; logged, never shown to the caller."""


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """Who an OAuth access token names: issuer, subject, tenant and role."""

    issuer: str
    subject: str
    tenant: str
    role: Role | None  # None: the token grants no role (a registered user may still have one)
    client_id: str | None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class OAuthValidator:
    """Verifies access tokens of the configured issuers; ``platform_tenant`` is the tenant whose
    admins manage every tenant (``[auth] platform_tenant``)."""

    def __init__(self, settings: OAuthSettings, platform_tenant: str = "default") -> None:
        self.settings = settings
        self.platform_tenant = platform_tenant
        self.issuers = {i.issuer: i for i in settings.issuers}
        self.jwks = {
            i.issuer: JwksCache(
                i.jwks_url,
                cache_seconds=settings.jwks_cache_seconds,
                min_refresh_seconds=settings.jwks_min_refresh_seconds,
                timeout=settings.jwks_timeout_seconds,
            )
            for i in settings.issuers
        }

    async def validate(self, token: str) -> TokenIdentity:
        """The identity in a valid access token that grants a role; 401 or 403 otherwise."""
        identity = await self.identify(token)
        if identity.role is None:
            raise PermissionDenied("The access token grants no Flightdeck role")
        return identity

    async def identify(self, token: str) -> TokenIdentity:
        """The identity in a valid access token, with or without a role; 401 if invalid."""
        try:
            issuer, claims = await self._verify(token)
        except TokenRejected as exc:
            log.debug("access token rejected: %s", exc)
            raise AuthenticationError("Invalid access token", code="invalid_token") from None
        return self._identity(issuer, claims)

    async def _verify(self, token: str) -> tuple[OAuthIssuer, dict[str, Any]]:
        if len(token) > MAX_TOKEN_BYTES or not JWT_SHAPE.fullmatch(token):
            raise TokenRejected("not a compact JWS")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"undecodable: {type(exc).__name__}") from None
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise TokenRejected(f"typ {typ!r} is not at+jwt (an ID token?)")
        issuer = self.issuers.get(unverified.get("iss"))  # type: ignore[arg-type]
        if issuer is None:
            raise TokenRejected("unknown issuer")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise TokenRejected(f"alg {alg!r} not allowed for this issuer")
        kid = header.get("kid")
        if kid is not None and (
            not isinstance(kid, str) or len(kid) > 128 or not SAFE_KID.fullmatch(kid)
        ):
            raise TokenRejected("kid has characters a key id never needs")
        jwk_data = await self.jwks[issuer.issuer].key(kid)
        if jwk_data is None:
            raise TokenRejected("no key with this kid in the issuer's JWKS")
        if jwk_data.get("use", "sig") != "sig" or jwk_data.get("alg", alg) != alg:
            raise TokenRejected("the JWKS key is not for signing with this alg")
        try:
            key = jwt.PyJWK(jwk_data, algorithm=alg)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"verification failed: {type(exc).__name__}") from None
        return issuer, claims

    def _identity(self, issuer: OAuthIssuer, claims: dict[str, Any]) -> TokenIdentity:
        tenant = claims.get(issuer.tenant_claim)
        if not isinstance(tenant, str) or not SAFE_TENANT.fullmatch(tenant):
            raise PermissionDenied("The access token names no valid tenant")
        if not issuer.may_speak_for(tenant):
            log.info("issuer %s is not bound to tenant %r", issuer.issuer, tenant)
            raise PermissionDenied(
                f"The access token's issuer may not speak for tenant {tenant!r}",
                code="issuer_not_allowed_for_tenant",
            )
        raw = claims.get(issuer.role_claim)
        names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        roles = set()
        for name in names:
            if isinstance(name, str):
                mapped = issuer.role_map.get(name, name)
                if mapped in Role._value2member_map_:
                    roles.add(Role(mapped))
        if not roles and issuer.default_role is not None:
            roles.add(Role(issuer.default_role))
        role = next((r for r in ROLE_ORDER if r in roles), None)
        if role is Role.ADMIN and tenant == self.platform_tenant and not issuer.platform_admin:
            log.info(
                "issuer %s is not trusted for platform admin: admin claim taken as member",
                issuer.issuer,
            )
            role = Role.MEMBER
        client_id = claims.get("client_id")
        return TokenIdentity(
            issuer.issuer,
            str(claims["sub"]),
            tenant,
            role,
            client_id if isinstance(client_id, str) else None,
        )
