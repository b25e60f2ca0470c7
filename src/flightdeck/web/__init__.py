"""The web pages: ``/`` (the start page) and ``/app/`` (assistant and search), static files
served as they are (no build step, nothing from a CDN), every one with the pages' security
headers (``headers.py``)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flightdeck.web.headers import PageHeaders, page_headers

STATIC = Path(__file__).parent / "static"
HOME = Path(__file__).parent / "home.html"
# What the start page links, in the order the start banner names them: (name, path).
PAGES = [
    ("start page", "/"),
    ("assistant", "/app/"),
    ("search", "/app/search.html"),
    ("console", "/console"),
    ("API docs", "/admin/docs"),
]


async def home(request: Request) -> Response:
    """``GET /``: the start page, linking the assistant, search, console and API docs."""
    return FileResponse(HOME, media_type="text/html", headers=page_headers())


def web_routes() -> list[BaseRoute]:
    """``/`` is the start page; ``/app/`` serves the assistant page (and ``/app/search.html``
    the search page); they call the API with a key the user pastes. Every response has the
    pages' security headers (Content-Security-Policy, no framing, ``nosniff``, no referrer)."""
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route(
            "/app",
            lambda request: RedirectResponse("/app/", headers=page_headers()),
            methods=["GET"],
        ),
        Mount("/app/", PageHeaders(StaticFiles(directory=STATIC, html=True)), name="app"),
    ]
