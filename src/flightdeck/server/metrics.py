"""``/metrics`` in the Prometheus text format: on the main port for platform admins, or on a
separate listener (``telemetry.metrics_address``) for scrapers, with no key there.

The metrics cover every tenant, so on the main port only an admin of the platform tenant may
read them (others: 403, nothing else said). A separate listener is meant for a private address
that only the scraper reaches (a pod port the NetworkPolicy opens to ``monitoring``).
"""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CONTENT_TYPE_LATEST, start_http_server
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.api import authenticate_request
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Role
from flightdeck.core.errors import ConfigError, PermissionDenied
from flightdeck.telemetry import Telemetry

log = logging.getLogger(__name__)


class MetricsRoutes:
    """``GET /metrics`` on the main port (platform admins only)."""

    def __init__(self, telemetry: Telemetry, caller: CallerAuthenticator, platform: str) -> None:
        self.telemetry = telemetry
        self.caller = caller
        self.platform = platform

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.metrics, methods=["GET"])]

    async def metrics(self, request: Request) -> Response:
        principal = await authenticate_request(self.caller, request)
        if principal.role is not Role.ADMIN or principal.tenant != self.platform:
            raise PermissionDenied("Only platform admins read /metrics", code="role_forbidden")
        return Response(self.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsListener:
    """prometheus-client's own HTTP server on ``host:port``, in a daemon thread."""

    def __init__(self, telemetry: Telemetry, address: str) -> None:
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"telemetry.metrics_address: expected host:port, got {address!r}")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.telemetry = telemetry
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen; with ``serve --workers N`` only the first worker gets the port (the others
        log a warning and serve no listener: each process keeps its own metrics)."""
        try:
            self._server, self._thread = start_http_server(
                self.port, addr=self.host, registry=self.telemetry.metrics_registry
            )
        except OSError as exc:
            log.warning("telemetry.metrics_address %s:%s: %s", self.host, self.port, exc)

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
