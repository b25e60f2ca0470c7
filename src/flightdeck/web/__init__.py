"""The web page at ``/app``: static files served as they are (no build step)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flightdeck.web.headers import PageHeaders, page_headers

STATIC = Path(__file__).parent / "static"


def web_routes() -> list[BaseRoute]:
    """``/app/`` serves the assistant page (and ``/app/search.html`` the search page); they
    call the API with a key the user pastes. Every response has the pages' security headers
    (Content-Security-Policy, no framing, ``nosniff``, no referrer: ``headers.py``)."""
    return [
        Route(
            "/app",
            lambda request: RedirectResponse("/app/", headers=page_headers()),
            methods=["GET"],
        ),
        Mount("/app/", PageHeaders(StaticFiles(directory=STATIC, html=True)), name="app"),
    ]
