"""The one error tree of Flightdeck.

    FlightdeckError
    +-- ConfigError                  the configuration is invalid
    +-- RequestError                 the caller asked wrongly (HTTP 4xx)
    |   +-- InvalidRequest           malformed body or parameters (400)
    |   +-- AuthenticationError      missing or invalid credentials (401)
    |   +-- PermissionDenied         valid credentials, not allowed (403)
    |   +-- NotFound                 unknown model or resource (404)
    |   +-- PayloadTooLarge          body over the configured limit (413)
    |   +-- RateLimited              over a limit, try again later (429)
    +-- ClientGone                   the client closed the connection first (499, never sent)
    +-- UpstreamError                a model deployment failed (HTTP 5xx, or its own 4xx)
        +-- UpstreamUnavailable      nothing reachable to send it to (503)
        +-- UpstreamTimeout          the deadline passed (504)
        +-- InvalidUpstreamReply     a 2xx reply that is not a valid answer (502)

Each error carries the HTTP status and the OpenAI error ``type``/``code`` the server answers
with; the server maps them to responses in one place (``flightdeck.server.errors``). Messages
are redacted when the error is made (``flightdeck.core.redact``): whatever an error quotes (an
upstream URL, an upstream's body, a header), no credential leaves through it.
"""

from __future__ import annotations

from flightdeck.core.redact import redact


class FlightdeckError(Exception):
    """Root of every error Flightdeck raises on purpose."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class ConfigError(FlightdeckError):
    """The configuration file or environment is invalid; the message names the key."""


class RequestError(FlightdeckError):
    """The request is wrong (4xx): the caller can fix it."""

    status = 400
    type = "invalid_request_error"


class InvalidRequest(RequestError):
    """A malformed or out-of-range request (400); ``param`` names the field."""

    status = 400


class AuthenticationError(RequestError):
    """No valid credentials (401)."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(RequestError):
    """Valid credentials without the right to do this (403)."""

    status = 403
    type = "permission_error"


class NotFound(RequestError):
    """The thing asked for does not exist, or not for this caller (404)."""

    status = 404
    code = "model_not_found"


class PayloadTooLarge(RequestError):
    """The request body is over the size limit (413)."""

    status = 413
    code = "request_too_large"


class RateLimited(RequestError):
    """A rate limit or budget is exhausted (429); ``retry_after`` says when to retry."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ):
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = headers or {}


class ClientGone(FlightdeckError):
    """The client closed the connection before the answer was ready (nginx's 499)."""

    status = 499
    type = "client_gone"
    code = "client_gone"


class UpstreamError(FlightdeckError):
    """A deployment failed. ``status`` is what the client gets; ``upstream_status`` what we saw."""

    status = 502
    type = "upstream_error"
    code = "bad_gateway"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ):
        super().__init__(message, code=code)
        if status is not None:
            self.status = status
        if error_type is not None:
            self.type = error_type
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamUnavailable(UpstreamError):
    """No upstream could take the request (503)."""

    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time (504)."""

    status = 504
    code = "upstream_timeout"


class InvalidUpstreamReply(UpstreamError):
    """A 2xx reply that is not a valid answer: not JSON, not the API's shape, a broken stream
    (``flightdeck.providers.replies``). A failed attempt like a 5xx: retried, failed over."""

    code = "invalid_upstream_reply"
