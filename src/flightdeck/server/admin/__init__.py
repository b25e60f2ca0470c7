"""The admin API under ``/admin`` (FastAPI, so it is OpenAPI-documented at /admin/openapi.json).

One module per resource (``tenants``, ``keys``, ``budgets``, ``usage``, ``users``,
``service_accounts``, ``collections``, ``store_shares``, ``experiments``, ``cache``), each a
module-level ``router``; ``app.py`` includes them all. Every route authenticates the caller
(API key or OAuth access token) and checks tenant and role (``access.py``): admins of the
platform tenant manage every tenant; anyone else sees only their own tenant, and only its
admins change anything. A resource of another tenant answers 404, a named other tenant 403,
so nothing about other tenants leaks.
"""

from flightdeck.server.admin.app import ROUTERS, admin_mount, create_admin_app

__all__ = ["ROUTERS", "admin_mount", "create_admin_app"]
