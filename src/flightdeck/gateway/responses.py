"""The OpenAI Responses API, for clients that speak it (the openai SDK's ``responses``, agents):

    POST   /v1/responses        -> wire.responses: Responses -> chat -> ModelCalls -> Responses
    GET    /v1/responses/{id}   a stored response (the caller's tenant only; until it expires)
    DELETE /v1/responses/{id}

Same request path as chat completions (``ModelCalls``). A response is stored unless the request
says ``store: false``; ``previous_response_id`` continues the stored conversation. Errors leave
in the OpenAI shape, as on the chat-completions routes.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flightdeck.api import authenticate_request, client_gone, read_json_object
from flightdeck.api.sse import EventStreamResponse
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.calls import CallContext, ModelCalls
from flightdeck.core.errors import InvalidRequest, NotFound
from flightdeck.core.settings import Settings
from flightdeck.gateway.routes import JSON, limit_headers, require_model, routing_headers
from flightdeck.gateway.translated import translated, with_dropped
from flightdeck.store.database import Store
from flightdeck.store.responses import ResponseStore
from flightdeck.wire.chat import ChatAssembler, Notes, new_id
from flightdeck.wire.responses import completion_to_response, responses_to_chat_request
from flightdeck.wire.responses_stream import ChatToResponses

MESSAGE_KEYS = (
    "role",
    "content",
    "refusal",
    "reasoning_content",
    "thinking_blocks",
    "extra_content",
)
CALL_KEYS = ("id", "type", "function", "extra_content")


class ResponsesRoutes:
    """``/v1/responses``: the OpenAI Responses API, with stored responses."""

    def __init__(
        self, settings: Settings, calls: ModelCalls, auth: CallerAuthenticator, store: Store
    ) -> None:
        self.calls = calls
        self.auth = auth
        self.max_body = settings.server.max_body_bytes
        self.stored = ResponseStore(store, settings.responses.stored_ttl_seconds)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/responses", self.create, methods=["POST"]),
            Route("/v1/responses/{response_id}", self.retrieve, methods=["GET"]),
            Route("/v1/responses/{response_id}", self.delete, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response | EventStreamResponse:
        principal = await authenticate_request(self.auth, request)
        require_spender(principal)
        body = await read_json_object(request, self.max_body)
        model = require_model(body)
        if not isinstance(body.get("stream", False), bool):
            raise InvalidRequest("'stream' must be a boolean", param="stream")
        previous = await self.conversation(principal, body.get("previous_response_id"))
        chat = responses_to_chat_request(body, previous)
        # the conversation to store: without the instructions (they are not carried over)
        history = chat["messages"][1:] if body.get("instructions") else list(chat["messages"])
        response_id = new_id("resp")
        ctx = CallContext(
            principal, model, "chat", client_gone=client_gone(request), headers=request.headers
        )
        keep = body.get("store") is not False
        if body.get("stream"):
            chat["stream_options"] = {"include_usage": True}
            opened = await self.calls.open_chat_stream(ctx, chat)
            translator = ChatToResponses(body, response_id=response_id)
            reply = ChatAssembler()

            async def store_it() -> None:
                if keep:
                    messages = [*history, reply_message(reply.message())]
                    await self.save(principal, translator.final_response(), messages)

            return EventStreamResponse(
                translated(opened, translator, on_chunk=reply.add, before_end=store_it),
                headers=routing_headers(opened.routed)
                + limit_headers(opened.ticket)
                + ctx.response_headers(),
                on_close=opened.aclose,
            )
        routed = await self.calls.chat(ctx, chat)
        completion = routed.value.json()
        notes = Notes(routed.value.dropped_thinking)
        response = completion_to_response(completion, body, response_id=response_id, notes=notes)
        if keep:
            message = (completion.get("choices") or [{}])[0].get("message") or {}
            await self.save(principal, response, [*history, reply_message(message)])
        reply_body = Response(orjson.dumps(response), media_type=JSON)
        headers = routing_headers(routed) + limit_headers(ctx.ticket) + ctx.response_headers()
        reply_body.raw_headers.extend(with_dropped(headers, notes.dropped_thinking))
        return reply_body

    async def retrieve(self, request: Request) -> Response:
        principal = await authenticate_request(self.auth, request)
        response_id = request.path_params["response_id"]
        stored = await self.stored.get(principal.tenant, response_id)
        if stored is None:
            raise not_found(response_id)
        return Response(orjson.dumps(stored.response), media_type=JSON)

    async def delete(self, request: Request) -> Response:
        principal = await authenticate_request(self.auth, request)
        require_spender(principal)
        response_id = request.path_params["response_id"]
        if not await self.stored.delete(principal.tenant, response_id):
            raise not_found(response_id)
        body = {"id": response_id, "object": "response", "deleted": True}
        return Response(orjson.dumps(body), media_type=JSON)

    async def conversation(self, principal: Principal, previous_id: Any) -> list[dict[str, Any]]:
        """The chat messages of the stored conversation ``previous_response_id`` continues."""
        if previous_id is None:
            return []
        stored = await self.stored.get(principal.tenant, str(previous_id))
        if stored is None:
            raise InvalidRequest(
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
            )
        return stored.messages

    async def save(
        self, principal: Principal, response: dict[str, Any], messages: list[dict[str, Any]]
    ) -> None:
        await self.stored.save(
            principal.tenant, principal.key_id, principal.user, response, messages
        )


def reply_message(message: dict[str, Any]) -> dict[str, Any]:
    """The assistant's reply as a chat message to send again later (reply-only fields such
    as ``annotations`` left out: upstreams refuse them in a request)."""
    out = {k: message[k] for k in MESSAGE_KEYS if message.get(k) is not None}
    out.setdefault("content", None)
    if message.get("tool_calls"):
        out["tool_calls"] = [{k: c[k] for k in CALL_KEYS if k in c} for c in message["tool_calls"]]
    return out


def not_found(response_id: str) -> NotFound:
    return NotFound(
        f"Response with id '{response_id}' not found.", param="response_id", code="not_found"
    )
