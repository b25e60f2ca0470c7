"""``/console``: the operator's console page (static files; its data comes from
``/admin/console/...`` with the admin key the page asks for, sent as a Bearer header).

A browser cannot put a Bearer header on a navigation, so ``/console`` without credentials
answers the page shell: markup and scripts with no data in them, which show only a key field
until ``/admin/console/live`` accepts the key. With an ``Authorization`` header (curl, a
proxy that injects one), the page needs an admin key: 401 for a bad one, 403 for another role,
in the admin API's error shape. Every answer carries the pages' security headers
(``web/headers.py``: a CSP without inline scripts or styles, no framing, ``nosniff``, no
referrer) and ``no-store``; ``console.js`` and the vendored uPlot are static files.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Role
from flightdeck.core.errors import FlightdeckError, PermissionDenied
from flightdeck.server.errors import error_response
from flightdeck.web.headers import PageHeaders, page_headers

CONSOLE = Path(__file__).parent.parent / "web" / "console"
HEADERS = page_headers() | {"cache-control": "no-store"}


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
                refused.headers.update(HEADERS)
                return refused
        return FileResponse(CONSOLE / "index.html", headers=HEADERS)

    return [
        Route("/console", page, methods=["GET"]),
        Route(
            "/console/",
            lambda request: RedirectResponse("/console", headers=HEADERS),
            methods=["GET"],
        ),
        Mount("/console/static", PageHeaders(StaticFiles(directory=CONSOLE)), name="console"),
    ]
