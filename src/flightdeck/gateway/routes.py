"""The gateway's HTTP routes. The request path reads top to bottom here:

authenticate -> read and check the body -> ``ModelCalls``: admit (limits, budgets) -> route
(retries, fallbacks) -> settle (reconcile limits, record usage off the request path) -> respond.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.api import authenticate_request, client_gone, read_json_object
from flightdeck.api.sse import EventStreamResponse, error_event
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.calls import CallContext, ModelCalls, ModelStream, OpenedStream, Routed, Ticket
from flightdeck.core.errors import InvalidRequest, NotFound, UpstreamError
from flightdeck.core.settings import Settings
from flightdeck.providers.base import UpstreamReply
from flightdeck.wire.embeddings import check_embeddings_options

JSON = "application/json"


class Gateway:
    """The OpenAI-compatible routes: chat completions, embeddings, models."""

    def __init__(self, settings: Settings, calls: ModelCalls, auth: CallerAuthenticator) -> None:
        self.settings = settings
        self.calls = calls
        self.groups = calls.router.groups
        self.auth = auth
        self.max_body = settings.server.max_body_bytes
        self.created = int(time.time())

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.get_model, methods=["GET"]),
        ]

    async def chat_completions(self, request: Request) -> Response | EventStreamResponse:
        principal = await self.authenticate(request)
        require_spender(principal)
        body = await read_json_object(request, self.max_body)
        model = require_model(body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("'messages' must be a non-empty array", param="messages")
        if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
            raise InvalidRequest("each message must be an object with a 'role'", param="messages")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise InvalidRequest("'stream' must be a boolean", param="stream")
        ctx = CallContext(
            principal, model, "chat", client_gone=client_gone(request), headers=request.headers
        )
        if stream:
            opened = await self.calls.open_chat_stream(ctx, body)
            return EventStreamResponse(
                forwarded(opened),
                headers=routing_headers(opened.routed)
                + limit_headers(opened.ticket)
                + ctx.response_headers(),
                on_close=opened.aclose,
            )
        routed = await self.calls.chat(ctx, body)
        return json_reply(routed, ctx.ticket, ctx.response_headers())

    async def embeddings(self, request: Request) -> Response:
        principal = await self.authenticate(request)
        require_spender(principal)
        body = await read_json_object(request, self.max_body)
        model = require_model(body)
        if not valid_embedding_input(body.get("input")):
            raise InvalidRequest(
                "'input' must be a non-empty string, array of strings, or array of tokens",
                param="input",
            )
        check_embeddings_options(body)
        ctx = CallContext(principal, model, "embeddings", client_gone=client_gone(request))
        routed = await self.calls.embeddings(ctx, body)
        return json_reply(routed, ctx.ticket, ctx.experiment_headers())

    async def list_models(self, request: Request) -> Response:
        await self.authenticate(request)
        data = [self.model_card(name) for name in self.groups]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def get_model(self, request: Request) -> Response:
        await self.authenticate(request)
        name = request.path_params["model"]
        if name not in self.groups:
            raise NotFound(f"The model `{name}` does not exist", param="model")
        return Response(orjson.dumps(self.model_card(name)), media_type=JSON)

    def model_card(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "flightdeck"}

    async def authenticate(self, request: Request) -> Principal:
        return await authenticate_request(self.auth, request)


async def forwarded(stream: ModelStream) -> AsyncIterator[bytes]:
    """The upstream's events as they are; a stream that breaks or goes quiet ends with one
    OpenAI-shaped error event (nothing is retried once the first event is on the wire)."""
    try:
        async for event in stream:
            yield event
    except UpstreamError as exc:
        yield error_event(exc)


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", param="model")
    return model


def valid_embedding_input(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    if isinstance(first, str):
        return all(isinstance(v, str) for v in value)
    if isinstance(first, int):
        return all(isinstance(v, int) for v in value)
    if isinstance(first, list):
        return all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value)
    return False


def routing_headers(routed: Routed[Any]) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-flightdeck-model-group", routed.group.encode()),
        (b"x-flightdeck-attempts", str(routed.attempts).encode()),
    ]
    value = routed.value
    dropped = value.stream.dropped_thinking if isinstance(value, OpenedStream) else 0
    if isinstance(value, UpstreamReply):
        dropped = value.dropped_thinking
    if dropped:  # thinking the upstream's wire format had no place for (flightdeck.wire)
        headers.append((b"x-flightdeck-thinking-dropped", str(dropped).encode()))
    return headers


def limit_headers(ticket: Ticket | None) -> list[tuple[bytes, bytes]]:
    if ticket is None:
        return []
    return [(k.encode(), v.encode()) for k, v in ticket.headers.items()]


def json_reply(
    routed: Routed[Any],
    ticket: Ticket | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    response = Response(routed.value.body, media_type=JSON)
    response.raw_headers.extend(routing_headers(routed) + limit_headers(ticket) + (extra or []))
    return response
