"""``/console``: the operator's console page (static files; its data comes from
``/admin/console/...`` with the admin key the page asks for, sent as a Bearer header).

A browser cannot put a Bearer header on a navigation, so ``/console`` without credentials
answers the page shell: markup and scripts with no data in them, which show only a key field
until ``/admin/console/live`` accepts the key. With an ``Authorization`` header (curl, a
proxy that injects one), the page needs an admin key: 401 for a bad one, 403 for another role,
in the admin API's error shape. Every answer carries the pages' security headers: a CSP
without inline scripts or styles (``console.js`` and the vendored uPlot are static files).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Role
from flightdeck.core.errors import FlightdeckError, PermissionDenied
from flightdeck.server.errors import error_response

CONSOLE = Path(__file__).parent.parent / "web" / "console"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _ConsoleFiles(StaticFiles):
    """The page's scripts, styles and vendored uPlot, with the security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def console_routes(caller: CallerAuthenticator) -> list[BaseRoute]:
    """``/console`` (the page), ``/console/`` (a redirect) and ``/console/static/...``."""

    async def page(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        if authorization is not None:
            try:
                principal = await caller.authenticate(authorization)
                if principal.role is not Role.ADMIN:
                    raise PermissionDenied(
                        "The console needs the admin role", code="role_forbidden"
                    )
            except FlightdeckError as exc:
                refused = error_response(exc)
                refused.headers.update(SECURITY_HEADERS)
                return refused
        return FileResponse(CONSOLE / "index.html", headers=SECURITY_HEADERS)

    return [
        Route("/console", page, methods=["GET"]),
        Route("/console/", lambda request: RedirectResponse("/console"), methods=["GET"]),
        Mount("/console/static", _ConsoleFiles(directory=CONSOLE), name="console"),
    ]
