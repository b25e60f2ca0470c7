"""The Anthropic Messages API, for clients that speak it (coding agents, the anthropic SDK):

    POST /v1/messages               -> wire.anthropic: Messages -> chat -> ModelCalls -> Messages
    POST /v1/messages/count_tokens  -> the upstream's count where it has one, else the tokenizer

Same request path as chat completions (authentication, limits, budgets, ledger: ``ModelCalls``);
the key may come as ``x-api-key`` (what the anthropic SDK sends) or a bearer token. Errors
leave in Anthropic's shape (``{"type": "error", "error": {"type", "message"}}``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.api import client_gone, read_json_object
from flightdeck.api.sse import EventStreamResponse
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.calls import CallContext, ModelCalls
from flightdeck.calls.router import ModelGroup
from flightdeck.core.errors import FlightdeckError, InvalidRequest, RateLimited, UpstreamError
from flightdeck.core.settings import Settings
from flightdeck.gateway.routes import JSON, limit_headers, routing_headers
from flightdeck.gateway.translated import translated, with_dropped
from flightdeck.limits.estimate import estimate_chat_tokens
from flightdeck.wire.anthropic import (
    anthropic_to_chat_request,
    chat_to_anthropic_message,
    error_body,
)
from flightdeck.wire.anthropic_stream import ChatToAnthropic
from flightdeck.wire.chat import Notes


class MessagesRoutes:
    """``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic Messages API."""

    def __init__(self, settings: Settings, calls: ModelCalls, auth: CallerAuthenticator) -> None:
        self.calls = calls
        self.auth = auth
        self.max_body = settings.server.max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/v1/messages", self.create, methods=["POST"]),
            Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
        ]

    async def create(self, request: Request) -> Response | EventStreamResponse:
        try:
            return await self._create(request)
        except FlightdeckError as exc:
            return error_response(exc)

    async def _create(self, request: Request) -> Response | EventStreamResponse:
        principal = await self.authenticate(request)
        require_spender(principal)
        body = await read_json_object(request, self.max_body)
        model = check_body(body)
        chat = anthropic_to_chat_request(body)
        ctx = CallContext(
            principal, model, "chat", client_gone=client_gone(request), headers=request.headers
        )
        if body.get("stream"):
            chat["stream_options"] = {"include_usage": True}
            opened = await self.calls.open_chat_stream(ctx, chat)
            translator = ChatToAnthropic(model=model, input_tokens=opened.ticket.prompt_tokens)
            return EventStreamResponse(
                translated(opened, translator),
                headers=routing_headers(opened.routed)
                + limit_headers(opened.ticket)
                + ctx.response_headers(),
                on_close=opened.aclose,
            )
        routed = await self.calls.chat(ctx, chat)
        notes = Notes(routed.value.dropped_thinking)
        message = chat_to_anthropic_message(routed.value.json(), model=model, notes=notes)
        response = Response(orjson.dumps(message), media_type=JSON)
        headers = routing_headers(routed) + limit_headers(ctx.ticket) + ctx.response_headers()
        response.raw_headers.extend(with_dropped(headers, notes.dropped_thinking))
        return response

    async def count_tokens(self, request: Request) -> Response:
        try:
            principal = await self.authenticate(request)
            body = await read_json_object(request, self.max_body)
            model = check_body(body, count=True)
            chat = anthropic_to_chat_request(body)
            group = self.calls.router.known(model)
            admitted = await self.calls.accounting.admit_request(principal)
            try:
                tokens = await count_prompt(group, chat)
            finally:
                await admitted.reconcile(0)
        except FlightdeckError as exc:
            return error_response(exc)
        return Response(orjson.dumps({"input_tokens": tokens}), media_type=JSON)

    async def authenticate(self, request: Request) -> Principal:
        """The caller, from ``Authorization: Bearer`` or, as the anthropic SDK sends the key,
        ``x-api-key``. Credentials in the query string are refused, as on every route."""
        header = request.headers.get("authorization")
        key = request.headers.get("x-api-key")
        if header is None and key:
            header = f"Bearer {key}"
        query = request.query_params if request.scope.get("query_string") else None
        principal = await self.auth.authenticate(header, query)
        request.state.principal = principal
        return principal


def check_body(body: dict[str, Any], *, count: bool = False) -> str:
    """The model of a Messages request, after the checks the Messages API makes itself."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required", param="model")
    most = body.get("max_tokens")
    if not count and (not isinstance(most, int) or isinstance(most, bool) or most < 1):
        raise InvalidRequest("max_tokens: Field required (a positive integer)", param="max_tokens")
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequest("stream: must be a boolean", param="stream")
    return model


async def count_prompt(group: ModelGroup, chat: dict[str, Any]) -> int:
    """The first available deployment's own count when its API has one (Anthropic, Gemini),
    else (or if that fails) the gateway's tokenizer estimate."""
    for dep in group.capable["chat"]:
        if not dep.circuit.available():
            continue
        try:
            counted = await dep.provider.count_tokens(chat)
        except UpstreamError:
            counted = None
        if counted is not None:
            return counted
        break
    return estimate_chat_tokens(chat)[0]


def error_response(exc: FlightdeckError) -> Response:
    """An error in the Messages API's shape, with ``Retry-After`` and rate-limit headers."""
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, RateLimited | UpstreamError) and retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)
    body = orjson.dumps(error_body(exc.status, exc.message))
    return Response(body, status_code=exc.status, headers=headers, media_type=JSON)
