"""The ASGI server: one app factory, the middleware stack, and error mapping to HTTP."""

from flightdeck.server.app import create_app

__all__ = ["create_app"]
