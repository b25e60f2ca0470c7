"""The ASGI app factory: ``create_app(settings)`` wires every plane onto one Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flightdeck.assistant.routes import Assistant
from flightdeck.auth.accounts import AccountStore
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import KeyStore
from flightdeck.auth.legacy import adopt_legacy_identities
from flightdeck.cache import ResponseCache, TextEncoder, sentence_encoder
from flightdeck.calls import Accounting, ModelCalls, Router
from flightdeck.core.errors import ClientGone, FlightdeckError
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
from flightdeck.server.errors import (
    handle_flightdeck_error,
    handle_http_exception,
    handle_unexpected,
)
from flightdeck.server.feedback import FeedbackRoutes
from flightdeck.server.health import Health
from flightdeck.store.database import Store
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


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nginx's "client closed request"; nobody reads it


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
    cache: ResponseCache,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start-up (migrations, tokenizer, accounting, upstream pools, the semantic cache's
    encoder) and shutdown, in order."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.migrate()
        await adopt_legacy_identities(store, settings.auth.oauth)
        await asyncio.to_thread(encoding)  # load the tokenizer now, not on the first request
        await accounting.start()
        await router.start()
        warming = None
        if cache.semantic:  # MiniLM loads meanwhile; the first semantic lookup waits for it
            warming = asyncio.get_running_loop().run_in_executor(None, load_sentence_model)
        try:
            yield
        finally:
            search.close()
            await router.close()
            if warming is not None:
                warming.cancel()  # a load still running is left to finish in its thread
            await cache.close()
            await accounting.close()
            await store.close()

    return lifespan


def create_app(settings: Settings, *, registry: ProviderRegistry | None = None) -> Starlette:
    """The whole platform as one Starlette app: every plane's routes, ``/admin``, the web page;
    also turns on log redaction for the process (``flightdeck.core.redact``)."""
    install_log_redaction()
    registry = registry or ProviderRegistry.default()
    store = Store(settings.store_url)
    keys = KeyStore(store)
    router = Router.from_settings(settings, registry)
    caller = CallerAuthenticator.from_settings(settings.auth, keys, AccountStore(store))
    accounting = Accounting.from_settings(settings, store)
    experiments = ExperimentRuntime(ExperimentStore(store))
    cache = ResponseCache.from_settings(settings.cache, minilm_encoder())
    calls = ModelCalls(router, accounting, before_call=experiments.before_call, cache=cache)
    gateway = Gateway(settings, calls, caller)
    messages = MessagesRoutes(settings, calls, caller)
    responses = ResponsesRoutes(settings, calls, caller, store)
    health = Health(store, router, accounting)
    admin = admin_mount(
        settings,
        store,
        keys,
        caller=caller,
        policies=accounting.policies,
        experiment_runtime=experiments,
        response_cache=cache,
    )
    feedback = FeedbackRoutes(store, caller)
    assistant = Assistant(settings, calls, caller, store)
    search = SearchRoutes(settings, caller, store, accounting)

    app = Starlette(
        routes=[
            *gateway.routes(),
            *messages.routes(),
            *responses.routes(),
            *assistant.routes(),
            *search.routes(),
            *feedback.routes(),
            *web_routes(),
            *health.routes(),
            admin,
        ],
        exception_handlers={
            FlightdeckError: handle_flightdeck_error,
            ClientGone: _client_gone,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=_lifespan(settings, store, router, accounting, search, cache),
    )
    app.state.services = Services(settings, store, keys, router, accounting, cache)
    app.state.assistant = assistant
    app.state.search = search
    return app
