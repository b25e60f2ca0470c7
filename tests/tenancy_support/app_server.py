"""Any ASGI app on a loopback port, served by uvicorn in a thread."""

from flightdeck.testing.server import AppThread as AppServer

__all__ = ["AppServer"]
