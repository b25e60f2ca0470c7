"""One front door for credentials: an API key or an OAuth2 access token, always in the header.

``CallerAuthenticator.authenticate(request)`` returns the Principal a request runs as. Tokens in
the query string (``?access_token=``, ``?api_key=``) are refused outright (RFC 9068 / 6750 advice:
URLs end up in logs), as is anything but ``Authorization: Bearer``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.auth.keys import Authenticator, Principal
from flightdeck.auth.oauth import OAuthValidator, looks_like_jwt
from flightdeck.core.errors import AuthenticationError

QUERY_CREDENTIALS = ("access_token", "api_key", "key", "token")


class CallerAuthenticator:
    def __init__(self, keys: Authenticator, oauth: OAuthValidator | None = None) -> None:
        self.keys = keys
        self.oauth = oauth if oauth is not None and oauth.issuers else None

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
                identity = await self.oauth.validate(token)
                return Principal(
                    None, identity.subject, identity.tenant, identity.role, user=identity.subject
                )
        return await self.keys.authenticate(authorization)
