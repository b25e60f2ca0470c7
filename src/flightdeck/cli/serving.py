"""Serving the ASGI app: one uvicorn process, or ``--workers N`` processes sharing one port.

With several workers the parent binds the socket, migrates the store once, and hands the
settings to uvicorn's process supervisor (``uvicorn.supervisors.Multiprocess``), which starts
the workers (spawned, each builds its own app), restarts any that dies, and on SIGTERM or
SIGINT passes SIGTERM on and waits for them. Each worker shuts down gracefully: it stops
accepting, lets requests and streams in flight finish for up to
``[server] shutdown_grace_seconds``, then flushes its ledger.
"""

from __future__ import annotations

import functools

import uvicorn
from uvicorn.supervisors import Multiprocess

from flightdeck.core.settings import Settings
from flightdeck.server.app import create_app

WORKER_START_SECONDS = 60


def uvicorn_config(settings: Settings, workers: int = 1) -> uvicorn.Config:
    """The uvicorn configuration of ``settings.server``; the app is built in each process."""
    app = functools.partial(create_app, settings)  # picklable: spawned workers rebuild it
    return uvicorn.Config(
        app,
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.server.access_log,
        log_level="info",
        timeout_keep_alive=settings.server.keep_alive_seconds,
        timeout_graceful_shutdown=round(settings.server.shutdown_grace_seconds),
        # A spawned worker answers the supervisor's pings only once its imports are done (a few
        # seconds, more on a busy machine); uvicorn's default of 5 s killed workers mid-import.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )


def serve(settings: Settings, workers: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; ``workers`` overrides ``[server] workers``."""
    count = workers if workers is not None else settings.server.workers
    config = uvicorn_config(settings, count)
    if count <= 1:
        uvicorn.Server(config).run()  # sets up uvloop as configured
        return
    socket = config.bind_socket()
    Multiprocess(config, sockets=[socket]).run()
