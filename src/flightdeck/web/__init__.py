"""The web pages: ``/`` (the start page) and ``/app/`` (assistant and search), static files
served as they are (no build step, nothing from a CDN), every one with :data:`PAGE_HEADERS`."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
HOME = Path(__file__).parent / "home.html"
# Pages load only their own files and call only this server's API; they are never framed.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
# What the start page links, in the order the start banner names them: (name, path).
PAGES = [
    ("start page", "/"),
    ("assistant", "/app/"),
    ("search", "/app/search.html"),
    ("console", "/console"),
    ("API docs", "/admin/docs"),
]


class PageFiles(StaticFiles):
    """Static files with the pages' security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


async def home(request: Request) -> Response:
    """``GET /``: the start page, linking the assistant, search, console and API docs."""
    return FileResponse(HOME, media_type="text/html", headers=PAGE_HEADERS)


def web_routes() -> list[BaseRoute]:
    """``/`` is the start page; ``/app/`` serves the assistant and search pages, which call
    the API with a key the user pastes."""
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/app", lambda request: RedirectResponse("/app/"), methods=["GET"]),
        Mount("/app/", PageFiles(directory=STATIC, html=True), name="app"),
    ]
