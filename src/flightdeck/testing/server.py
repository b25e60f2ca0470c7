"""Run a real Flightdeck server (uvicorn on a loopback port) in a thread, for tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Self

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from flightdeck.auth.keys import KeyStore, Role
from flightdeck.core.settings import ServerSettings, Settings
from flightdeck.server.app import create_app
from flightdeck.server.protocol import EdgeConfig
from flightdeck.store.database import Store
from flightdeck.telemetry import Telemetry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_key(settings: Settings, role: Role = Role.ADMIN, tenant: str = "default") -> str:
    store = Store(settings.store_url)
    try:
        await store.migrate()
        _, key = await KeyStore(store).create("test", role=role, tenant=tenant)
        return key
    finally:
        await store.close()


class AppThread:
    """Any ASGI app on a loopback port, served by uvicorn in a thread:
    ``with AppThread(app) as server: server.url ...``"""

    def __init__(
        self,
        app: ASGIApp,
        port: int = 0,
        limits: ServerSettings | None = None,
        *,
        log_level: str = "warning",
    ) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            EdgeConfig(  # the head limits and timeouts of `flightdeck serve`
                app,
                limits or ServerSettings(),
                host="127.0.0.1",
                port=self.port,
                loop="asyncio",
                lifespan="on",
                log_level=log_level,  # "info" turns the access log on
                timeout_graceful_shutdown=2,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="test-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class ServerThread(AppThread):
    """Flightdeck itself, with an admin key: ``with ServerThread(settings) as server: ...``"""

    def __init__(
        self,
        settings: Settings,
        *,
        log_level: str = "warning",
        telemetry: Telemetry | None = None,
    ) -> None:
        if settings.server.port == 0:
            settings.server.port = free_port()
        self.settings = settings
        self.app: Starlette = create_app(settings, telemetry=telemetry)
        super().__init__(self.app, settings.server.port, settings.server, log_level=log_level)
        self.api_key = asyncio.run(create_key(settings))
