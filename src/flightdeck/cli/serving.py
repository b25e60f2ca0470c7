"""Serving the ASGI app: one uvicorn process, or ``--workers N`` processes sharing one port.

``flightdeck serve`` migrates the store (and ``up`` makes the first key) before this starts,
so however many workers start, that happens once. With several workers the parent binds the
socket and uvicorn's supervisor (``Supervisor`` below) spawns the workers (each builds its own
app from the pickled settings), restarts any that dies, and on SIGTERM/SIGINT passes SIGTERM on
and waits for them.

Shutdown is graceful, and careful with connections a proxy keeps open: stop accepting without
resetting what is queued, serve requests already on their way (``Connection: close``), let
requests and streams in flight finish for up to ``[server] shutdown_grace_seconds``, then
flush the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import gc
import os
import select
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from flightdeck.core.settings import Settings
from flightdeck.server.app import create_app
from flightdeck.server.protocol import EdgeConfig, EdgeHttpToolsProtocol

WORKER_START_SECONDS = 60


class DrainingHttpToolsProtocol(EdgeHttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a gentler graceful shutdown for keep-alive connections.

    uvicorn closes an idle keep-alive connection the moment shutdown starts. A request that a
    proxy has just written to it, but this process has not read yet, is then lost: the proxy
    sees the connection reset, answers 502, and cannot retry a POST (nginx does not resend a
    non-idempotent request). Measured behind nginx under 50 requests/s: a few 502s in every
    rolling restart. Here an idle connection stays open for up to ``keep_alive_seconds``; a
    request arriving on it is served with ``Connection: close``, so the proxy stops using it,
    and the proxy's own shorter idle timeout closes the rest first.
    """

    draining = False

    def shutdown(self) -> None:
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # the response in flight ends the connection
            return
        self._unset_keepalive_if_required()  # (re)arm the idle timer: closes it if unused
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def timeout_keep_alive_handler(self) -> None:
        """Close an idle connection, unless a request is already waiting in its socket.

        uvloop runs due timers before it reads sockets, so after the event loop was held up
        (a throttled container, a busy machine) the idle timer of a connection whose next
        request has arrived, unread, fires first: uvicorn closed it and the proxy got a reset
        (measured: 58 resets after one 6 s stall behind nginx). The read that follows serves
        the request instead, and the timer is armed again after its response.
        """
        if not self.transport.is_closing() and request_waiting(self.transport):
            return
        super().timeout_keep_alive_handler()


def request_waiting(transport: asyncio.BaseTransport) -> bool:
    """True when the connection's socket has bytes (or its end) waiting to be read."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class DrainingServer(uvicorn.Server):
    """uvicorn's server, closing its listening socket without resetting queued connections.

    A connection the kernel has accepted (handshake done, maybe its request sent) but the
    server has not yet taken from the listen queue is reset when the listening socket closes;
    a proxy answers that request with 502. Under load the queue is rarely empty (the event
    loop takes a while to come round), so shutdown first takes every queued connection, then
    closes the socket at once, and serves what it took (``Connection: close``, see above).
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        queued: list[socket.socket] = []
        for server in getattr(self, "servers", []):
            for listener in server.sockets:
                queued += accept_queued(listener.fileno(), listener.family, listener.type)
            server.close()  # in the same step: nothing new can queue between the two
        config, state = self.config, self.server_state

        def create_protocol() -> asyncio.Protocol:  # as uvicorn's own startup() makes them
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        for connection in queued:
            await loop.connect_accepted_socket(create_protocol, connection, ssl=self.config.ssl)
        await super().shutdown(sockets)


def accept_queued(fd: int, family: int, kind: int) -> list[socket.socket]:
    """Every connection waiting in the listen queue of the (non-blocking) socket ``fd``."""
    listener = socket.socket(family, kind, fileno=os.dup(fd))
    taken: list[socket.socket] = []
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return taken
            connection.setblocking(False)
            taken.append(connection)
    finally:
        listener.close()


# Net new tracked objects before a young-generation collection in a serving process (CPython's
# default is 700): see serving_app.
GC_YOUNG_THRESHOLD = 10_000


def serving_app(settings: Settings) -> Starlette:
    """``create_app(settings)`` for a serving process, with the cyclic garbage collector set
    for a server once start-up is done (measured in ``docs/benchmarks.md``):

    - everything alive then is moved out of its reach (``gc.freeze``, the CPython docs' advice
      for servers): the app's tables, the tokenizer and the imported modules are not traversed
      again by every full collection;
    - the youngest generation's threshold goes from 700 to ``GC_YOUNG_THRESHOLD``: the
      collector counts allocations minus deallocations of tracked objects, and with dozens of
      requests in flight that count passed 700 about every 2 ms, each time traversing every
      young in-flight object (about a sixth of a request's CPU). Request objects are freed by
      reference counting (a successful request through the gateway leaves no reference cycle;
      a failed one leaves its exception's traceback), so the higher threshold delays only
      that cyclic garbage, by at most that many objects.

    Not done in ``create_app``: a test process builds hundreds of apps, frozen objects are
    never collected, and the thresholds are process-wide."""
    app = create_app(settings)
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with started(app):
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            yield

    app.router.lifespan_context = lifespan
    return app


def uvicorn_config(settings: Settings, workers: int = 1) -> uvicorn.Config:
    """The uvicorn configuration of ``settings.server`` (with its limits on request heads);
    the app is built in each process."""
    app = functools.partial(serving_app, settings)  # picklable: spawned workers rebuild it
    return EdgeConfig(
        app,
        settings.server,
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=workers,
        loop="uvloop",
        http=DrainingHttpToolsProtocol,
        lifespan="on",
        access_log=settings.server.access_log,
        log_level="info",
        log_config=logging_config(),
        timeout_keep_alive=settings.server.keep_alive_seconds,
        timeout_graceful_shutdown=round(settings.server.shutdown_grace_seconds),
        # A spawned worker answers the supervisor's pings only once its imports are done (a few
        # seconds, more on a busy machine); uvicorn's default of 5 s killed workers mid-import.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )


def logging_config() -> dict[str, Any]:
    """uvicorn's logging, plus Flightdeck's own loggers (ledger, limits, store) on its handler;
    without this, worker processes showed only their warnings, unformatted. The request log
    (``flightdeck.requests``) does not propagate: its JSON lines have a handler of their own."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["flightdeck"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Request lines: only their own JSON handler (telemetry.logs adds it), written once.
    config["loggers"]["flightdeck.requests"] = {"level": "INFO", "propagate": False}
    # Every line redacted (flightdeck.core.redact), the access log's query strings included.
    config.setdefault("filters", {})["redact"] = {"()": "flightdeck.core.redact.RedactingFilter"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    return config


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor; on SIGTERM/SIGINT it first closes its own copy of the
    listening socket, so the port stops taking connections as soon as the workers (each
    draining like a single process) have closed theirs, instead of queueing connections that
    nobody serves until the supervisor exits and the kernel resets them."""

    def terminate_all(self) -> None:
        for listener in self.sockets:
            listener.close()
        super().terminate_all()


def serve(settings: Settings, workers: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; ``workers`` overrides ``[server] workers``."""
    count = workers if workers is not None else settings.server.workers
    config = uvicorn_config(settings, count)
    if count <= 1:
        DrainingServer(config).run()  # sets up uvloop as configured
        return
    listener = config.bind_socket()
    Supervisor(config, sockets=[listener]).run()
