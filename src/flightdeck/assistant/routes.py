"""The assistant's HTTP routes. A chat request reads top to bottom in ``_answer``:

authenticate -> read and bound the body -> extract and chunk pages (cached) -> rank -> fit
the budget -> render the prompt -> the gateway's router -> check citations -> store the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flightdeck.api import authenticate_request, client_gone, read_json_object
from flightdeck.api.sse import EventStreamResponse
from flightdeck.assistant.citations import CitationChecker
from flightdeck.assistant.context import (
    Context,
    PageCache,
    ProcessedPage,
    build_context,
    page_key,
)
from flightdeck.assistant.conversations import (
    ConversationStore,
    conversation_summary,
    passage_dict,
)
from flightdeck.assistant.embeddings import Encoders, PassageEncoder
from flightdeck.assistant.events import error_data, sse
from flightdeck.assistant.fetch import fetch_html
from flightdeck.assistant.ocr import find_ocr
from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.requests import ChatRequest, parse_chat, parse_page
from flightdeck.auth.caller import CallerAuthenticator
from flightdeck.auth.keys import Principal, require_spender
from flightdeck.calls import CallContext, ModelCalls
from flightdeck.core.errors import FlightdeckError, InvalidRequest, UpstreamError
from flightdeck.core.settings import Settings
from flightdeck.core.tokens import count_tokens
from flightdeck.store.database import Store
from flightdeck.telemetry.stages import Stage, no_stage

JSON = "application/json"


@dataclass
class Answer:
    """What the model said, once checked."""

    text: str = ""
    checker: CitationChecker = field(default_factory=lambda: CitationChecker(()))
    completion_tokens: int | None = None


class Assistant:
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
        self.settings = settings
        self.stage = stage  # telemetry: extract, rank, budget, cite
        self.calls = calls
        self.limits = settings.assistant
        self.auth = auth
        self.conversations = ConversationStore(store)
        self.encoders = Encoders(encoder, use_multilingual=self.limits.multilingual_embeddings)
        self.encoder = self.encoders.english
        ocr, no_ocr = find_ocr(self.limits)
        self.pages = PageCache(ocr=ocr, no_ocr=no_ocr)
        self.max_body = settings.server.max_body_bytes

    def routes(self) -> list[BaseRoute]:
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

    # -- routes ---------------------------------------------------------------------------

    async def chat(self, request: Request) -> Response | EventStreamResponse:
        principal = await self.authenticate(request)
        require_spender(principal)
        self.warm_on_first_use()
        req = parse_chat(await self.read_json(request), self.limits)
        self.calls.router.group(req.model, "chat")  # unknown model: 404 before anything else
        history: list[dict[str, Any]] = []
        if req.conversation_id is not None:
            conversation = await self.conversations.get(principal, req.conversation_id)
            history = await self.conversations.history(conversation.id)
        if req.stream:
            return EventStreamResponse(self._stream(principal, req, history))
        with self.stage("assistant.extract"):
            pages = await self._pages(principal, req)
        conversation_id = await self._conversation(principal, req, pages)
        context = await self._context(req, pages, history)
        body = self._body(req, context, stream=False)
        ctx = CallContext(principal, req.model, client_gone=client_gone(request))
        routed = await self.calls.chat(ctx, body)
        reply = routed.value.json()
        answer = Answer(checker=CitationChecker({s.n for s in context.sources}, context.boundary))
        content = _message_content(reply)
        with self.stage("assistant.cite"):
            answer.text = _checked(answer.checker, content)
        answer.completion_tokens = (reply.get("usage") or {}).get("completion_tokens")
        await self._save(conversation_id, req, answer, context)
        return Response(
            orjson.dumps(
                {
                    "conversation_id": conversation_id,
                    "model": req.model,
                    "answer": answer.text,
                    "sources": [s.as_dict() for s in context.sources],
                    "unreadable": context.unreadable,
                    "citations": [self._citation(context, n) for n in answer.checker.cited],
                    "invalid_citations": answer.checker.invalid,
                    "usage": self._usage(context, answer),
                    "prompt_version": context.prompt_version,
                }
            ),
            media_type=JSON,
            headers=ctx.ticket.headers if ctx.ticket is not None else None,
        )

    async def extract(self, request: Request) -> Response:
        await self.authenticate(request)
        body = await self.read_json(request)
        raw = body.get("page", body)
        page = parse_page(raw, 0, self.limits, allow_url_only=self.limits.fetch_urls)
        processed = await self._process(await self._fetched(page, 0), 0)
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
        principal = await self.authenticate(request)
        data = await self.conversations.list_for(principal)
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def get_conversation(self, request: Request) -> Response:
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
        principal = await self.authenticate(request)
        conversation_id = request.path_params["id"]
        await self.conversations.delete(principal, conversation_id)
        return Response(orjson.dumps({"id": conversation_id, "deleted": True}), media_type=JSON)

    # -- the streamed answer --------------------------------------------------------------

    async def _stream(
        self, principal: Principal, req: ChatRequest, history: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        yield sse("status", {"stage": "reading", "pages": len(req.pages)})
        try:
            with self.stage("assistant.extract"):
                pages = await self._pages(principal, req)
            conversation_id = await self._conversation(principal, req, pages)
            context = await self._context(req, pages, history)
        except FlightdeckError as exc:
            yield sse(
                "error", error_data(exc.message, exc.code or exc.type, getattr(exc, "page", None))
            )
            return
        yield sse(
            "status",
            {
                "stage": "answering",
                "conversation_id": conversation_id,
                "prompt_version": context.prompt_version,
            },
        )
        sources = [s.as_dict() for s in context.sources]
        yield sse("sources", {"sources": sources, "unreadable": context.unreadable})
        answer = Answer(checker=CitationChecker({s.n for s in context.sources}, context.boundary))
        try:
            async for event in self._generate(principal, req, context, answer):
                yield event
        except FlightdeckError as exc:
            yield sse("error", error_data(exc.message, exc.code or exc.type))
            return
        yield sse("usage", self._usage(context, answer))
        await self._save(conversation_id, req, answer, context)
        yield sse(
            "done",
            {"conversation_id": conversation_id, "invalid_citations": answer.checker.invalid},
        )

    async def _generate(
        self, principal: Principal, req: ChatRequest, context: Context, answer: Answer
    ) -> AsyncIterator[bytes]:
        body = self._body(req, context, stream=True)
        # No client_gone here: the event stream response watches the client already.
        ctx = CallContext(principal, req.model)
        async with await self.calls.open_chat_stream(ctx, body) as stream:
            async for raw in stream:
                chunk = _parse_chunk(raw)
                if chunk is None:
                    continue
                if usage := chunk.get("usage"):
                    answer.completion_tokens = usage.get("completion_tokens")
                piece = _delta_content(chunk)
                if piece:
                    async for event in self._emit(context, answer, *answer.checker.feed(piece)):
                        yield event
            with self.stage("assistant.cite"):
                text, cited = answer.checker.finish()
            async for event in self._emit(context, answer, text, cited):
                yield event

    async def _emit(
        self, context: Context, answer: Answer, text: str, cited: list[int]
    ) -> AsyncIterator[bytes]:
        if text:
            answer.text += text
            yield sse("delta", {"text": text})
        for n in cited:
            yield sse("citation", self._citation(context, n))

    # -- shared steps ---------------------------------------------------------------------

    async def _pages(self, principal: Principal, req: ChatRequest) -> list[ProcessedPage]:
        if req.pages:
            return [
                await self._process(await self._fetched(p, i), i) for i, p in enumerate(req.pages)
            ]
        assert req.conversation_id is not None
        stored = await self.conversations.pages(req.conversation_id)
        if not stored:
            raise InvalidRequest(
                "this conversation has no stored pages: send 'pages'", param="pages"
            )
        cached = [self.pages.get(p.key) or p for p in stored]
        for page in cached:
            self.pages.put(page)
        return cached

    async def _process(self, page: PageInput, index: int) -> ProcessedPage:
        hit = self.pages.get(page_key(page))
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.pages.process, page, index)

    async def _fetched(self, page: PageInput, index: int) -> PageInput:
        if page.html is not None or page.text is not None or page.pdf is not None or page.selection:
            return page
        html = await fetch_html(
            page.url,
            max_bytes=self.limits.max_page_bytes,
            timeout_seconds=self.limits.fetch_timeout_seconds,
        )
        return PageInput(page.url, page.title, html=html)

    async def _conversation(
        self, principal: Principal, req: ChatRequest, pages: list[ProcessedPage]
    ) -> str:
        conversation_id = req.conversation_id
        if conversation_id is None:
            title = req.question or (pages[0].title if pages else "") or req.mode
            conversation_id = await self.conversations.create(
                principal, title=title, model=req.model
            )
        if req.pages:
            await self.conversations.save_pages(conversation_id, pages)
        return conversation_id

    async def _context(
        self, req: ChatRequest, pages: list[ProcessedPage], history: list[dict[str, Any]]
    ) -> Context:
        languages = [p.language for p in pages]
        encoder = self.encoders.ready_for(languages) if self.limits.embeddings else None
        return await build_context(
            req.question,
            req.mode,
            pages,
            history,
            settings=self.limits,
            model=req.model,
            prompt=req.prompt,
            encoder=encoder,
            stage=self.stage,
        )

    def _body(self, req: ChatRequest, context: Context, *, stream: bool) -> dict[str, Any]:
        # A fixed shape: page text can never add tools, functions or other options.
        body: dict[str, Any] = {"model": req.model, "messages": context.messages, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}  # exact usage for the ledger
        return body

    async def _save(
        self, conversation_id: str, req: ChatRequest, answer: Answer, context: Context
    ) -> None:
        citations = [self._citation(context, n) for n in answer.checker.cited]
        await self.conversations.add_turn(
            conversation_id,
            question=req.question or req.mode,
            answer=answer.text,
            mode=req.mode,
            citations=citations,
        )

    def _citation(self, context: Context, n: int) -> dict[str, Any]:
        source = context.sources[n - 1]
        p = source.passage
        return {
            "n": n,
            "id": p.id,
            "page": source.page,
            "start": p.start,
            "end": p.end,
            "page_no": p.page_no,
        }

    def _usage(self, context: Context, answer: Answer) -> dict[str, Any]:
        completion = answer.completion_tokens
        if completion is None:
            completion = count_tokens(answer.text)
        return {
            "prompt_tokens": context.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": context.prompt_tokens + completion,
            "pages": [u.as_dict() for u in context.usage],
        }

    # -- request plumbing -----------------------------------------------------------------

    async def authenticate(self, request: Request) -> Principal:
        return await authenticate_request(self.auth, request)

    async def read_json(self, request: Request) -> dict[str, Any]:
        return await read_json_object(request, self.max_body)


def _parse_chunk(raw: bytes) -> dict[str, Any] | None:
    """The JSON of one upstream SSE event (``data: {...}``); None for ``[DONE]`` and comments."""
    for line in raw.splitlines():
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                return None
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                return None
            if isinstance(parsed, dict) and "error" in parsed:
                error = parsed["error"] if isinstance(parsed["error"], dict) else {}
                raise UpstreamError(
                    str(error.get("message", "the model stream failed")),
                    code=str(error.get("code") or "stream_interrupted"),
                )
            return parsed if isinstance(parsed, dict) else None
    return None


def _delta_content(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""


def _message_content(reply: dict[str, Any]) -> str:
    choices = reply.get("choices") or []
    if not choices:
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def _checked(checker: CitationChecker, text: str) -> str:
    shown, _ = checker.feed(text)
    rest, _ = checker.finish()
    return shown + rest
