"""The gateway's HTTP routes. The request path reads top to bottom here:

authenticate -> read and check the body -> admit (limits, budgets) -> route (retries,
fallbacks) -> respond -> settle (reconcile limits, record usage off the request path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive

from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from flightdeck.core.settings import Settings
from flightdeck.gateway.accounting import Accounting, Kind, StreamMeter, Ticket
from flightdeck.gateway.router import OpenedStream, Routed, Router
from flightdeck.gateway.streaming import EventStreamResponse
from flightdeck.providers.base import UpstreamReply

T = TypeVar("T")
JSON = "application/json"


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


class Gateway:
    def __init__(
        self,
        settings: Settings,
        router: Router,
        auth: CallerAuthenticator,
        accounting: Accounting | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.auth = auth
        self.accounting = accounting
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
        body = await self.read_json(request)
        model = require_model(body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("'messages' must be a non-empty array", param="messages")
        if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
            raise InvalidRequest("each message must be an object with a 'role'", param="messages")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise InvalidRequest("'stream' must be a boolean", param="stream")
        ticket = await self.admit(principal, model, body, "chat")
        if stream:
            opened = await self.accounted(
                ticket, until_disconnect(request, self.router.open_chat_stream(model, body))
            )
            meter, on_close = self.stream_accounting(ticket, opened)
            return EventStreamResponse(
                opened.value,
                idle_timeout=self.router.settings.stream_idle_timeout_seconds,
                headers=routing_headers(opened) + limit_headers(ticket),
                on_event=meter.see if meter is not None else None,
                on_close=on_close,
            )
        routed = await self.accounted(
            ticket, until_disconnect(request, self.router.chat(model, body))
        )
        await self.settle_reply(ticket, routed)
        return json_reply(routed, ticket)

    async def embeddings(self, request: Request) -> Response:
        principal = await self.authenticate(request)
        require_spender(principal)
        body = await self.read_json(request)
        model = require_model(body)
        if not valid_embedding_input(body.get("input")):
            raise InvalidRequest(
                "'input' must be a non-empty string, array of strings, or array of tokens",
                param="input",
            )
        ticket = await self.admit(principal, model, body, "embeddings")
        call = until_disconnect(request, self.router.embeddings(model, body))
        routed = await self.accounted(ticket, call)
        await self.settle_reply(ticket, routed)
        return json_reply(routed, ticket)

    async def list_models(self, request: Request) -> Response:
        await self.authenticate(request)
        data = [self.model_card(name) for name in self.router.groups]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def get_model(self, request: Request) -> Response:
        await self.authenticate(request)
        name = request.path_params["model"]
        if name not in self.router.groups:
            raise NotFound(f"The model `{name}` does not exist", param="model")
        return Response(orjson.dumps(self.model_card(name)), media_type=JSON)

    def model_card(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "flightdeck"}

    async def authenticate(self, request: Request) -> Principal:
        return await authenticate_request(self.auth, request)

    # ---- limits before the call, usage after it (flightdeck.gateway.accounting) ----------

    async def admit(
        self, principal: Principal, model: str, body: dict[str, Any], kind: Kind
    ) -> Ticket | None:
        if self.accounting is None or model not in self.router.groups:
            return None  # unknown models fail in the router with 404, unaccounted
        return await self.accounting.admit(principal, model, body, kind)

    async def accounted(self, ticket: Ticket | None, call: Awaitable[T]) -> T:
        """Await the routed call; a failure is settled (refunded, recorded) and re-raised."""
        try:
            return await call
        except Exception as exc:
            if ticket is not None and self.accounting is not None:
                if isinstance(exc, ClientGone):
                    await self.accounting.settle(ticket, status=499, error_type="client_gone")
                else:
                    await self.accounting.settle_failure(ticket, exc)
            raise

    async def settle_reply(self, ticket: Ticket | None, routed: Routed[Any]) -> None:
        if ticket is None or self.accounting is None:
            return
        usage = routed.value.json().get("usage")
        await self.accounting.settle(
            ticket, status=200, usage=usage, deployment=routed.deployment.id
        )

    def stream_accounting(
        self, ticket: Ticket | None, opened: Routed[Any]
    ) -> tuple[StreamMeter | None, Callable[[str | None], Awaitable[None]] | None]:
        accounting = self.accounting
        if ticket is None or accounting is None:
            return None, None
        meter = StreamMeter()
        ttft_ms = (time.perf_counter() - ticket.started) * 1000
        assert ticket is not None

        async def on_close(outcome: str | None) -> None:
            await accounting.settle(
                ticket,
                status=200,
                usage=meter.settled_usage(ticket.prompt_tokens),
                deployment=opened.deployment.id,
                ttft_ms=ttft_ms,
                error_type=outcome,
            )

        return meter, on_close

    async def read_json(self, request: Request) -> dict[str, Any]:
        return await read_json_object(request, self.max_body)


async def authenticate_request(auth: CallerAuthenticator, request: Request) -> Principal:
    """The caller of ``request`` (kept on ``request.state`` for logs); the query string is
    passed only when there is one, so credentials in URLs are refused without a parse."""
    query = request.query_params if request.scope.get("query_string") else None
    principal = await auth.authenticate(request.headers.get("authorization"), query)
    request.state.principal = principal
    return principal


async def read_json_object(request: Request, max_body: int) -> dict[str, Any]:
    """The body as a JSON object, refusing oversized bodies before reading them whole."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise PayloadTooLarge(f"request body is larger than {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise PayloadTooLarge(f"request body is larger than {max_body} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone from None
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON."
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


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


def json_reply(routed: Routed[Any], ticket: Ticket | None = None) -> Response:
    response = Response(routed.value.body, media_type=JSON)
    response.raw_headers.extend(routing_headers(routed) + limit_headers(ticket))
    return response


async def until_disconnect(request: Request, call: Awaitable[T]) -> T:
    """Await ``call``, cancelling it (and so the upstream request) if the client disconnects."""
    me = asyncio.current_task()
    assert me is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _disconnected(request.receive)
        gone = True
        me.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await call
    except asyncio.CancelledError:
        if gone:
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
