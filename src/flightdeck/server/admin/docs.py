"""``/admin/openapi.json`` and ``/admin/docs``, for admins only, with no script from a CDN.

FastAPI's own docs page loads an unpinned Swagger UI from a CDN and an inline script, and its
schema and page answer anyone. Here both need the key (or token) of an admin of some tenant;
the page is a static shell that loads Swagger UI from the ``swagger-ui-bundle`` package
(Apache-2.0) and a small initializer from this server, under a Content-Security-Policy that
allows scripts from this origin only. Swagger UI reads the schema with the key that the web
page at ``/app`` keeps in the browser's local storage.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from starlette.responses import FileResponse, JSONResponse, Response

from flightdeck.auth.keys import Role
from flightdeck.core.errors import NotFound, PermissionDenied
from flightdeck.server.admin.access import Access, CallerAccess
from flightdeck.web.headers import DOCS_CSP, page_headers

SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)
ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
INIT_JS = """"use strict";
window.ui = SwaggerUIBundle({
  url: "/admin/openapi.json",
  dom_id: "#swagger-ui",
  requestInterceptor: (request) => {
    const key = localStorage.getItem("flightdeck.apiKey");
    if (key && !request.headers.Authorization) request.headers.Authorization = `Bearer ${key}`;
    return request;
  },
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Flightdeck admin API</title>
  <link rel="stylesheet" href="/admin/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/admin/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/admin/docs/assets/init.js"></script>
</body>
</html>
"""


def require_admin(caller: Access) -> None:
    """403 unless the caller is an admin (of any tenant)."""
    if caller.principal.role is not Role.ADMIN:
        raise PermissionDenied("The API description is for admins", code="role_forbidden")


def add_docs_routes(app: FastAPI) -> None:
    """Add the schema, the docs page and its assets to ``app`` (built with ``openapi_url=None``
    and ``docs_url=None``)."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(caller: CallerAccess) -> JSONResponse:
        require_admin(caller)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(caller: CallerAccess) -> Response:
        require_admin(caller)
        return Response(PAGE, media_type="text/html", headers=page_headers(DOCS_CSP))

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        """Swagger UI's files (public: the same as in the package) and the initializer."""
        headers = {"x-content-type-options": "nosniff", "cache-control": "public, max-age=3600"}
        if name == "init.js":
            return Response(INIT_JS, media_type="text/javascript", headers=headers)
        if name not in ASSETS:
            raise NotFound(f"no asset {name!r}", code="not_found")
        return FileResponse(SWAGGER_UI / name, media_type=ASSETS[name], headers=headers)
