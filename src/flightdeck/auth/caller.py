"""One front door for credentials: an API key or an OAuth2 access token, always in the header.

``CallerAuthenticator.authenticate(request)`` returns the Principal a request runs as. Tokens in
the query string (``?access_token=``, ``?api_key=``) are refused outright (RFC 9068 / 6750 advice:
URLs end up in logs), as is anything but ``Authorization: Bearer``.

An OAuth user registered in the token's tenant (``UserRoles``) gets their registered role, which
overrides the token's role claim; an unregistered user gets the claim's role.
"""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.keys import Authenticator, KeyStore, Principal
from flightdeck.auth.oauth import OAuthValidator, looks_like_jwt
from flightdeck.auth.user_roles import UserRoles
from flightdeck.core.errors import AuthenticationError, PermissionDenied
from flightdeck.core.settings import AuthSettings

QUERY_CREDENTIALS = ("access_token", "api_key", "key", "token")


class CallerAuthenticator:
    def __init__(
        self,
        keys: Authenticator,
        oauth: OAuthValidator | None = None,
        users: UserRoles | None = None,
    ) -> None:
        self.keys = keys
        self.oauth = oauth if oauth is not None and oauth.issuers else None
        self.users = users

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, keys: KeyStore, accounts: AccountStore
    ) -> CallerAuthenticator:
        """Keys and registered users cached ``key_cache_seconds``; tokens from the issuers."""
        ttl = settings.key_cache_seconds
        return cls(
            Authenticator(keys, ttl), OAuthValidator(settings.oauth), UserRoles(accounts, ttl)
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
                role = identity.role
                if self.users is not None:
                    role = await self.users.role(identity.tenant, identity.subject) or role
                if role is None:
                    raise PermissionDenied("The access token grants no Flightdeck role")
                return Principal(
                    None, identity.subject, identity.tenant, role, user=identity.subject
                )
        return await self.keys.authenticate(authorization)
