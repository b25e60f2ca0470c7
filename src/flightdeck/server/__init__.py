"""The ASGI server: one app factory (``create_app``), the admin API, and error mapping to HTTP."""

from flightdeck.server.app import create_app

__all__ = ["create_app"]
