"""Who is calling, and what they sent: authentication and the bounded JSON body."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal
from flightdeck.core.errors import ClientGone, InvalidRequest, PayloadTooLarge


async def authenticate_request(auth: CallerAuthenticator, request: Request) -> Principal:
    """The caller of ``request`` (kept on ``request.state`` for logs).

    The query string is passed only when there is one, so credentials in URLs are refused
    without a parse. Raises ``AuthenticationError`` (401) for missing or invalid credentials.
    """
    query = request.query_params if request.scope.get("query_string") else None
    principal = await auth.authenticate(request.headers.get("authorization"), query)
    request.state.principal = principal
    return principal


async def read_json_object(request: Request, max_body: int) -> dict[str, Any]:
    """The body as a JSON object, refusing bodies over ``max_body`` bytes before reading them.

    Raises ``PayloadTooLarge`` (413) when the body (or its ``content-length``) is over the limit,
    ``InvalidRequest`` (400) when it is not a JSON object, ``ClientGone`` when the client left.
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise PayloadTooLarge(f"request body is larger than {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise PayloadTooLarge(f"request body is larger than {max_body} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone("the client closed the connection while sending the body") from None
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON."
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body
