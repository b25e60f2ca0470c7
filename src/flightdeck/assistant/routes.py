"""The assistant's HTTP routes: parse, authenticate, and answer or stream.

What happens to a chat between the request and the reply lives in ``flow.py``
(pages -> context -> generate -> cite -> save); these routes only read and bound the request,
check the caller, and shape the response.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flightdeck.api import authenticate_request, client_gone, read_json_object
from flightdeck.api.sse import EventStreamResponse
from flightdeck.assistant.context import PageCache
from flightdeck.assistant.conversations import (
    ConversationStore,
    conversation_summary,
    passage_dict,
)
from flightdeck.assistant.embeddings import Encoders, PassageEncoder
from flightdeck.assistant.flow import AnswerFlow, Reply, citation, usage
from flightdeck.assistant.ocr import find_ocr
from flightdeck.assistant.requests import parse_chat, parse_page
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.calls import CallContext, ModelCalls
from flightdeck.core.settings import Settings
from flightdeck.store.database import Store
from flightdeck.telemetry.stages import Stage, no_stage

JSON = "application/json"


class Assistant:
    """``/v1/assistant/*``: chat about pages, extract a page, and the caller's conversations."""

    def __init__(
        self,
        settings: Settings,
        calls: ModelCalls,
        auth: CallerAuthenticator,
        store: Store,
        *,
        encoder: PassageEncoder | None = None,
        stage: Stage = no_stage,
    ) -> None:
        self.calls = calls
        self.limits = settings.assistant
        self.auth = auth
        self.conversations = ConversationStore(store)
        self.encoders = Encoders(encoder, use_multilingual=self.limits.multilingual_embeddings)
        self.encoder = self.encoders.english
        ocr, no_ocr = find_ocr(self.limits)
        self.pages = PageCache(ocr=ocr, no_ocr=no_ocr)
        self.flow = AnswerFlow(
            calls, self.limits, self.conversations, self.encoders, self.pages, stage
        )
        self.max_body = settings.server.max_body_bytes

    def routes(self) -> list[BaseRoute]:
        """The assistant's routes, for the app's route table."""
        return [
            Route("/v1/assistant/chat", self.chat, methods=["POST"]),
            Route("/v1/assistant/extract", self.extract, methods=["POST"]),
            Route("/v1/assistant/conversations", self.list_conversations, methods=["GET"]),
            Route("/v1/assistant/conversations/{id}", self.get_conversation, methods=["GET"]),
            Route("/v1/assistant/conversations/{id}", self.delete_conversation, methods=["DELETE"]),
        ]

    def warm_on_first_use(self) -> None:
        """Load the embedding model in the background on the first assistant request (ranking is
        BM25 until then), so a gateway that never serves the assistant never pays for it."""
        if self.limits.embeddings:
            self.encoder.warm_in_background()

    async def chat(self, request: Request) -> Response | EventStreamResponse:
        """``POST /v1/assistant/chat``: an answer with citations, as JSON or an event stream."""
        principal = await self.authenticate(request)
        require_spender(principal)
        self.warm_on_first_use()
        req = parse_chat(await self.read_json(request), self.limits)
        self.calls.router.group(req.model, "chat")  # unknown model: 404 before anything else
        history = await self.flow.history(principal, req)
        if req.stream:
            return EventStreamResponse(self.flow.stream(principal, req, history))
        call = CallContext(principal, req.model, client_gone=client_gone(request))
        reply = await self.flow.answer(principal, req, history, call)
        return Response(
            orjson.dumps(reply_json(reply, req.model)),
            media_type=JSON,
            headers=call.ticket.headers if call.ticket is not None else None,
        )

    async def extract(self, request: Request) -> Response:
        """``POST /v1/assistant/extract``: one page's text and passages, as the chat sees them."""
        await self.authenticate(request)
        body = await self.read_json(request)
        raw = body.get("page", body)
        page = parse_page(raw, 0, self.limits, allow_url_only=self.limits.fetch_urls)
        processed = await self.flow.read_page(page, 0)
        return Response(
            orjson.dumps(
                {
                    "url": processed.url,
                    "title": processed.title,
                    "text": processed.text,
                    "passages": [passage_dict(p) for p in processed.passages],
                    "source_pages": processed.source_pages or None,
                    "unreadable_pages": [u.as_dict() for u in processed.unreadable],
                }
            ),
            media_type=JSON,
        )

    async def list_conversations(self, request: Request) -> Response:
        """``GET /v1/assistant/conversations``: the caller's conversations."""
        principal = await self.authenticate(request)
        data = await self.conversations.list_for(principal)
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def get_conversation(self, request: Request) -> Response:
        """``GET /v1/assistant/conversations/{id}``: one conversation, its pages and turns."""
        principal = await self.authenticate(request)
        conversation = await self.conversations.get(principal, request.path_params["id"])
        messages = await self.conversations.messages(conversation.id)
        pages = await self.conversations.pages(conversation.id)
        body = conversation_summary(conversation) | {
            "pages": [{"url": p.url, "title": p.title} for p in pages],
            "messages": [
                {"role": m.role, "content": m.content, "mode": m.mode, "citations": m.citations}
                for m in messages
            ],
        }
        return Response(orjson.dumps(body), media_type=JSON)

    async def delete_conversation(self, request: Request) -> Response:
        """``DELETE /v1/assistant/conversations/{id}``."""
        principal = await self.authenticate(request)
        conversation_id = request.path_params["id"]
        await self.conversations.delete(principal, conversation_id)
        return Response(orjson.dumps({"id": conversation_id, "deleted": True}), media_type=JSON)

    async def authenticate(self, request: Request) -> Principal:
        """The caller (401 without valid credentials)."""
        return await authenticate_request(self.auth, request)

    async def read_json(self, request: Request) -> dict[str, Any]:
        """The body as a JSON object, bounded by ``server.max_body_bytes`` (413 above it)."""
        return await read_json_object(request, self.max_body)


def reply_json(reply: Reply, model: str) -> dict[str, object]:
    """The JSON body of a whole (not streamed) answer."""
    context, answer = reply.context, reply.answer
    return {
        "conversation_id": reply.conversation_id,
        "model": model,
        "answer": answer.text,
        "sources": [s.as_dict() for s in context.sources],
        "unreadable": context.unreadable,
        "citations": [citation(context, n) for n in answer.checker.cited],
        "invalid_citations": answer.checker.invalid,
        "usage": usage(context, answer),
        "prompt_version": context.prompt_version,
    }
