"""Every error leaves the server in the OpenAI error shape, with the right status, and its
message redacted (``flightdeck.core.redact``): no credential reaches a client through an error."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import orjson
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flightdeck.core.errors import ClientGone, FlightdeckError, RateLimited, UpstreamError
from flightdeck.core.redact import redact

log = logging.getLogger("flightdeck.server")


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> bytes:
    """The OpenAI error document, its message redacted."""
    return orjson.dumps(
        {"error": {"message": redact(message), "type": type_, "param": param, "code": code}}
    )


def error_response(exc: FlightdeckError) -> Response:
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, RateLimited | UpstreamError) and retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)
    body = error_body(exc.message, exc.type, exc.code, exc.param)
    return Response(body, status_code=exc.status, headers=headers, media_type="application/json")


async def handle_flightdeck_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlightdeckError)
    if exc.status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status, exc.message)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    body = error_body(str(exc.detail), "invalid_request_error", code)
    return Response(body, status_code=exc.status_code, media_type="application/json")


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = error_body("The server had an error while processing your request.", "server_error")
    return Response(body, status_code=500, media_type="application/json")


async def handle_out_of_range(request: Request, exc: Exception) -> Response:
    """A number the database cannot hold (an id or limit past 64 bits, or past a column's
    range): the caller's mistake, 400, not a 500."""
    log.info(
        "%s %s: number out of range (%s)", request.method, request.url.path, type(exc).__name__
    )
    body = error_body(
        "A number in the request is out of range.", "invalid_request_error", "number_out_of_range"
    )
    return Response(body, status_code=400, media_type="application/json")


async def handle_client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nginx's "client closed request"; nobody reads it


Handler = Callable[[Request, Exception], Awaitable[Response]]


def exception_handlers() -> dict[type[Exception], Handler]:
    """The one error mapping of every app (the API and the admin app), most specific first."""
    return {
        FlightdeckError: handle_flightdeck_error,
        ClientGone: handle_client_gone,
        HTTPException: handle_http_exception,
        OverflowError: handle_out_of_range,
        DataError: handle_out_of_range,
        Exception: handle_unexpected,
    }
