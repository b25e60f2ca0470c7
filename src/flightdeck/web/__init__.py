"""The web page at ``/app``: static files served as they are (no build step)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def web_routes() -> list[BaseRoute]:
    """``/app/`` serves the assistant page; it calls the API with a key the user pastes."""
    return [
        Route("/app", lambda request: RedirectResponse("/app/"), methods=["GET"]),
        Mount("/app/", StaticFiles(directory=STATIC, html=True), name="app"),
    ]
