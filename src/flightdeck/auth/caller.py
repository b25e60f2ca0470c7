"""One front door for credentials: an API key or an OAuth2 access token, always in the header.

``CallerAuthenticator.authenticate(request)`` returns the Principal a request runs as. Tokens in
the query string (``?access_token=``, ``?api_key=``) are refused outright (RFC 9068 / 6750 advice:
URLs end up in logs), as is anything but ``Authorization: Bearer``.

For an OAuth access token, in this order: the token verifies and its issuer is bound to the
tenant it names (``OAuthValidator``); the tenant exists, or the issuer provisions it
(``TenantDirectory``, 403 otherwise); a user registered in that tenant under the token's
(``iss``, ``sub``) (``UserRoles``) gets their registered role, which overrides the token's role
claim; an unregistered user gets the claim's role (never platform admin from an issuer that is not
trusted for it).
"""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.keys import Authenticator, KeyStore, Principal
from flightdeck.auth.oauth import OAuthValidator, looks_like_jwt
from flightdeck.auth.tenant_directory import TenantDirectory
from flightdeck.auth.tenants import TenantStore
from flightdeck.auth.user_roles import UserRoles
from flightdeck.core.errors import AuthenticationError, PermissionDenied
from flightdeck.core.settings import AuthSettings

QUERY_CREDENTIALS = ("access_token", "api_key", "key", "token")


class CallerAuthenticator:
    """Turns an ``Authorization`` header into a Principal: an API key or an OAuth access token."""

    def __init__(
        self,
        keys: Authenticator,
        oauth: OAuthValidator | None = None,
        users: UserRoles | None = None,
        tenants: TenantDirectory | None = None,
    ) -> None:
        self.keys = keys
        self.oauth = oauth if oauth is not None and oauth.issuers else None
        self.users = users
        self.tenants = tenants

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, keys: KeyStore, accounts: AccountStore
    ) -> CallerAuthenticator:
        """Keys, registered users and tenants cached ``key_cache_seconds``; tokens from the
        configured issuers."""
        ttl = settings.key_cache_seconds
        return cls(
            Authenticator(keys, ttl),
            OAuthValidator(settings.oauth, settings.platform_tenant),
            UserRoles(accounts, ttl),
            TenantDirectory(TenantStore(accounts.store, settings.platform_tenant), ttl),
        )

    async def authenticate(
        self, authorization: str | None, query: Mapping[str, str] | None = None
    ) -> Principal:
        if query and any(name in query for name in QUERY_CREDENTIALS):
            raise AuthenticationError(
                "Credentials in the URL are not accepted; send 'Authorization: Bearer <token>'",
                code="credentials_in_query",
            )
        if self.oauth is not None and authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and looks_like_jwt(token):
                identity = await self.oauth.identify(token)
                if self.tenants is not None:
                    issuer = self.oauth.issuers[identity.issuer]
                    await self.tenants.require(identity.tenant, provision=issuer.provision_tenants)
                role = identity.role
                if self.users is not None:
                    registered = await self.users.role(
                        identity.tenant, identity.issuer, identity.subject
                    )
                    role = registered or role
                if role is None:
                    raise PermissionDenied("The access token grants no Flightdeck role")
                return Principal(
                    None,
                    identity.subject,
                    identity.tenant,
                    role,
                    user=identity.subject,
                    issuer=identity.issuer,
                )
        return await self.keys.authenticate(authorization)
