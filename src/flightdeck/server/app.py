"""The ASGI app factory: ``create_app(settings)`` wires every plane onto one Starlette app.

``create_app`` also turns on log redaction for the process (``flightdeck.core.redact``); its
``telemetry`` argument replaces the one ``settings.telemetry`` describes (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.types import Scope

from flightdeck.assistant.routes import Assistant
from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import KeyStore
from flightdeck.auth.legacy import adopt_legacy_identities
from flightdeck.cache import ResponseCache, TextEncoder, sentence_encoder
from flightdeck.calls import Accounting, ModelCalls, Router
from flightdeck.core.redact import install_log_redaction
from flightdeck.core.settings import Settings
from flightdeck.core.tokens import encoding
from flightdeck.encoders.sentence import load_sentence_model
from flightdeck.experiments.runtime import ExperimentRuntime
from flightdeck.experiments.store import ExperimentStore
from flightdeck.gateway.messages import MessagesRoutes
from flightdeck.gateway.responses import ResponsesRoutes
from flightdeck.gateway.routes import Gateway
from flightdeck.providers.registry import ProviderRegistry
from flightdeck.search.routes import SearchRoutes
from flightdeck.server.admin import admin_mount
from flightdeck.server.console_page import console_routes
from flightdeck.server.console_sources import ConsoleSources
from flightdeck.server.edge import EdgeLimits
from flightdeck.server.errors import exception_handlers
from flightdeck.server.feedback import FeedbackRoutes
from flightdeck.server.health import Health
from flightdeck.server.metrics import MetricsListener, MetricsRoutes
from flightdeck.store.database import Store
from flightdeck.telemetry import Telemetry
from flightdeck.telemetry.middleware import TelemetryMiddleware
from flightdeck.web import web_routes


@dataclass
class Services:
    """What the running app holds; reachable as ``app.state.services``."""

    settings: Settings
    store: Store
    keys: KeyStore
    router: Router
    accounting: Accounting
    cache: ResponseCache


def minilm_encoder() -> TextEncoder:
    """The semantic cache's encoder: the process's MiniLM (``load_sentence_model``), loaded on
    first use, so a server without semantic groups never loads it."""

    def encode(texts: list[str]) -> NDArray[np.float32]:
        return sentence_encoder(load_sentence_model())(texts)

    return encode


def _lifespan(
    settings: Settings,
    store: Store,
    router: Router,
    accounting: Accounting,
    search: SearchRoutes,
    telemetry: Telemetry,
    listener: MetricsListener | None,
    cache: ResponseCache,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start-up (migrations, tokenizer, accounting, upstream pools, the metrics listener, the
    semantic cache's encoder) and shutdown, in order."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.migrate()
        await adopt_legacy_identities(store, settings.auth.oauth)
        await asyncio.to_thread(encoding)  # load the tokenizer now, not on the first request
        await accounting.start()
        await router.start()
        if listener is not None:
            listener.start()
        warming = None
        if cache.semantic:  # MiniLM loads meanwhile; the first semantic lookup waits for it
            warming = asyncio.get_running_loop().run_in_executor(None, load_sentence_model)
        try:
            yield
        finally:
            try:
                if listener is not None:
                    listener.close()
                search.close()
                await router.close()
                if warming is not None:
                    warming.cancel()  # a load still running is left to finish in its thread
                await cache.close()
                await accounting.close()
                await store.close()
            finally:  # last, and even when a close failed: the queued telemetry, the exporters
                telemetry.shutdown()

    return lifespan


def create_app(
    settings: Settings,
    *,
    registry: ProviderRegistry | None = None,
    telemetry: Telemetry | None = None,
) -> Starlette:
    """Every plane, ``/admin``, ``/metrics`` and the web page as one app (see the module doc)."""
    install_log_redaction()
    registry = registry or ProviderRegistry.default()
    telemetry = telemetry or Telemetry(settings.telemetry)
    store = Store(settings.store_url)
    keys = KeyStore(store)
    router = Router.from_settings(settings, registry)
    caller = CallerAuthenticator.from_settings(settings.auth, keys, AccountStore(store))
    accounting = Accounting.from_settings(settings, store)
    _instrument(telemetry, router, accounting)
    experiments = ExperimentRuntime(ExperimentStore(store))
    cache = ResponseCache.from_settings(settings.cache, minilm_encoder())
    calls = ModelCalls(router, accounting, before_call=experiments.before_call, cache=cache)
    gateway = Gateway(settings, calls, caller)
    health = Health(store, router, accounting, caller.keys)
    admin = _admin(settings, store, keys, caller, accounting, router, experiments, telemetry, cache)
    stage = telemetry.stage
    assistant = Assistant(settings, calls, caller, store, stage=stage, experiments=experiments)
    search = SearchRoutes(settings, caller, store, accounting, stage=stage, experiments=experiments)
    metric_routes, listener = _metrics(settings, telemetry, caller)

    app = Starlette(
        routes=[
            *gateway.routes(),
            *MessagesRoutes(settings, calls, caller).routes(),
            *ResponsesRoutes(settings, calls, caller, store).routes(),
            *assistant.routes(),
            *search.routes(),
            *FeedbackRoutes(store, caller).routes(),
            *web_routes(),
            *console_routes(caller),
            *health.routes(),
            *metric_routes,
            admin,
        ],
        exception_handlers=dict(exception_handlers()),
        # outermost but for Starlette's own: limits hold before any route parses or authenticates
        middleware=[Middleware(EdgeLimits, settings=settings.server)],
        lifespan=_lifespan(settings, store, router, accounting, search, telemetry, listener, cache),
    )
    app.state.services = Services(settings, store, keys, router, accounting, cache)
    app.state.assistant, app.state.search = assistant, search
    app.state.telemetry, app.state.metrics_listener = telemetry, listener
    if telemetry.settings.logs or telemetry.tracer is not None or telemetry.metrics is not None:
        app.add_middleware(TelemetryMiddleware, telemetry=telemetry, route_of=route_names(app))
    return app


def _admin(
    settings: Settings,
    store: Store,
    keys: KeyStore,
    caller: CallerAuthenticator,
    accounting: Accounting,
    router: Router,
    experiments: ExperimentRuntime,
    telemetry: Telemetry,
    cache: ResponseCache,
) -> Mount:
    """``/admin``, sharing the app's caller, policies, experiments, router and cache."""
    return admin_mount(
        settings,
        store,
        keys,
        caller=caller,
        policies=accounting.policies,
        experiment_runtime=experiments,
        console_sources=ConsoleSources(router, lambda: telemetry, settings.console),
        response_cache=cache,
    )


def _metrics(
    settings: Settings, telemetry: Telemetry, caller: CallerAuthenticator
) -> tuple[list[Route], MetricsListener | None]:
    """``/metrics`` on the app's own port, or a listener of its own at
    ``telemetry.metrics_address`` (then no route), or neither when metrics are off."""
    if not settings.telemetry.metrics:
        return [], None
    address = settings.telemetry.metrics_address
    if address:
        return [], MetricsListener(telemetry, address)
    return MetricsRoutes(telemetry, caller, settings.auth.platform_tenant).routes(), None


def _instrument(telemetry: Telemetry, router: Router, accounting: Accounting) -> None:
    """Hook telemetry into the shared services: one call site per event."""
    router.telemetry = telemetry.attempts
    accounting.on_settle = telemetry.record_call
    accounting.limiter.on_reject = telemetry.record_rejection
    deployments = router.deployments()
    telemetry.know_providers((d.id, d.provider.kind) for d in deployments)
    ledger = accounting.ledger
    telemetry.watch(
        lambda: ((d.id, d.circuit.state.value) for d in deployments),
        ledger.backlog if ledger is not None else None,
    )


def route_names(app: Starlette) -> Callable[[Scope], str]:
    """The route template a request matched (bounded, for labels and span names)."""
    templates: dict[Any, str] = {}
    mounts: list[str] = []
    for route in app.routes:
        if isinstance(route, Route):
            templates[route.endpoint] = route.path
        elif isinstance(route, Mount):
            mounts.append(route.path)

    def route_of(scope: Scope) -> str:
        name = templates.get(scope.get("endpoint"))
        if name is not None:
            return name
        path: str = scope["path"]
        for mount in mounts:
            if path == mount or path.startswith(mount + "/"):
                return mount + "/*"
        return "unmatched"

    return route_of
