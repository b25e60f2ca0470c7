"""The assistant's flow, apart from HTTP: pages -> context -> generate -> cite -> save.

A chat reads top to bottom in :meth:`AnswerFlow.answer` (one JSON reply) and
:meth:`AnswerFlow.stream` (server-sent events): extract and chunk the pages (cached), store them
with the conversation, rank and fit the passages to the budget and render the prompt
(``context.py``), call the model through the shared model calls (``flightdeck.calls``: routing,
limits, accounting, the stream idle timeout), check the citations as the text arrives, and store
the turn. ``routes.py`` only parses, authenticates and streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from flightdeck.assistant.citations import CitationChecker
from flightdeck.assistant.context import Context, PageCache, ProcessedPage, build_context, page_key
from flightdeck.assistant.conversations import ConversationStore
from flightdeck.assistant.embeddings import Encoders
from flightdeck.assistant.events import error_data, sse
from flightdeck.assistant.fetch import fetch_html
from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.requests import ChatRequest
from flightdeck.auth.keys import Principal
from flightdeck.calls import CallContext, ModelCalls
from flightdeck.core.errors import FlightdeckError, InvalidRequest, UpstreamError
from flightdeck.core.settings import AssistantSettings
from flightdeck.core.tokens import count_tokens
from flightdeck.telemetry.stages import Stage, no_stage


@dataclass
class Answer:
    """What the model said, once checked."""

    text: str = ""
    checker: CitationChecker = field(default_factory=lambda: CitationChecker(()))
    completion_tokens: int | None = None


@dataclass
class Reply:
    """A whole (not streamed) answer, and the call that produced it."""

    conversation_id: str
    context: Context
    answer: Answer
    call: CallContext


class AnswerFlow:
    """Answers questions about pages; one per app, shared by every request."""

    def __init__(
        self,
        calls: ModelCalls,
        limits: AssistantSettings,
        conversations: ConversationStore,
        encoders: Encoders,
        pages: PageCache,
        stage: Stage = no_stage,
    ) -> None:
        self.calls = calls
        self.limits = limits
        self.conversations = conversations
        self.encoders = encoders
        self.pages = pages
        self.stage = stage  # telemetry: extract, rank, budget, cite

    # -- the two ways through ----------------------------------------------------------------

    async def answer(
        self,
        principal: Principal,
        req: ChatRequest,
        history: list[dict[str, Any]],
        call: CallContext,
    ) -> Reply:
        """Pages -> context -> generate -> cite -> save, as one reply."""
        with self.stage("assistant.extract"):
            pages = await self.read_pages(req)
        conversation_id = await self.keep_conversation(principal, req, pages)
        context = await self.build_context(req, pages, history)
        routed = await self.calls.chat(call, model_body(req, context, stream=False))
        reply = routed.value.json()
        answer = Answer(checker=CitationChecker({s.n for s in context.sources}, context.boundary))
        with self.stage("assistant.cite"):
            answer.text = checked(answer.checker, message_content(reply))
        answer.completion_tokens = (reply.get("usage") or {}).get("completion_tokens")
        await self.save(conversation_id, req, answer, context)
        return Reply(conversation_id, context, answer, call)

    async def stream(
        self, principal: Principal, req: ChatRequest, history: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        """The same steps as :meth:`answer`, as server-sent events: ``status``, ``sources``,
        ``delta`` and ``citation`` as the text arrives, ``usage``, ``done`` (or ``error``)."""
        yield sse("status", {"stage": "reading", "pages": len(req.pages)})
        try:
            with self.stage("assistant.extract"):
                pages = await self.read_pages(req)
            conversation_id = await self.keep_conversation(principal, req, pages)
            context = await self.build_context(req, pages, history)
        except FlightdeckError as exc:
            page = getattr(exc, "page", None)
            yield sse("error", error_data(exc.message, exc.code or exc.type, page))
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
            async for event in self.generate(principal, req, context, answer):
                yield event
        except FlightdeckError as exc:
            yield sse("error", error_data(exc.message, exc.code or exc.type))
            return
        yield sse("usage", usage(context, answer))
        await self.save(conversation_id, req, answer, context)
        yield sse(
            "done",
            {"conversation_id": conversation_id, "invalid_citations": answer.checker.invalid},
        )

    # -- the steps, in order -----------------------------------------------------------------

    async def history(self, principal: Principal, req: ChatRequest) -> list[dict[str, Any]]:
        """The earlier turns of the request's conversation (404 for one the caller cannot see)."""
        if req.conversation_id is None:
            return []
        conversation = await self.conversations.get(principal, req.conversation_id)
        return await self.conversations.history(conversation.id)

    async def read_pages(self, req: ChatRequest) -> list[ProcessedPage]:
        """The request's pages, extracted and chunked, or else the conversation's stored pages."""
        if req.pages:
            return [await self.read_page(p, i) for i, p in enumerate(req.pages)]
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

    async def read_page(self, page: PageInput, index: int) -> ProcessedPage:
        """One page (fetched first when only its URL came and fetching is on), from the cache."""
        page = await self.fetched(page)
        hit = self.pages.get(page_key(page))
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.pages.process, page, index)

    async def fetched(self, page: PageInput) -> PageInput:
        """``page`` with its HTML, fetched (SSRF-guarded) when it came as a URL only."""
        if page.html is not None or page.text is not None or page.pdf is not None or page.selection:
            return page
        html = await fetch_html(
            page.url,
            max_bytes=self.limits.max_page_bytes,
            timeout_seconds=self.limits.fetch_timeout_seconds,
        )
        return PageInput(page.url, page.title, html=html)

    async def keep_conversation(
        self, principal: Principal, req: ChatRequest, pages: list[ProcessedPage]
    ) -> str:
        """The conversation's id (a new one when the request names none), its pages stored."""
        conversation_id = req.conversation_id
        if conversation_id is None:
            title = req.question or (pages[0].title if pages else "") or req.mode
            conversation_id = await self.conversations.create(
                principal, title=title, model=req.model
            )
        if req.pages:
            await self.conversations.save_pages(conversation_id, pages)
        return conversation_id

    async def build_context(
        self, req: ChatRequest, pages: list[ProcessedPage], history: list[dict[str, Any]]
    ) -> Context:
        """Ranked passages fitted to the budget, rendered into the prompt's messages."""
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

    async def generate(
        self, principal: Principal, req: ChatRequest, context: Context, answer: Answer
    ) -> AsyncIterator[bytes]:
        """Stream the model's answer as ``delta`` and ``citation`` events, checked as it comes."""
        # No client_gone here: the event stream response watches the client already.
        call = CallContext(principal, req.model)
        async with await self.calls.open_chat_stream(
            call, model_body(req, context, stream=True)
        ) as s:
            async for raw in s:
                chunk = parse_chunk(raw)
                if chunk is None:
                    continue
                if chunk_usage := chunk.get("usage"):
                    answer.completion_tokens = chunk_usage.get("completion_tokens")
                piece = delta_content(chunk)
                if piece:
                    for event in cite(context, answer, *answer.checker.feed(piece)):
                        yield event
            with self.stage("assistant.cite"):
                text, cited = answer.checker.finish()
            for event in cite(context, answer, text, cited):
                yield event

    async def save(
        self, conversation_id: str, req: ChatRequest, answer: Answer, context: Context
    ) -> None:
        """Store the turn: the question, the checked answer and its citations."""
        await self.conversations.add_turn(
            conversation_id,
            question=req.question or req.mode,
            answer=answer.text,
            mode=req.mode,
            citations=[citation(context, n) for n in answer.checker.cited],
        )


def model_body(req: ChatRequest, context: Context, *, stream: bool) -> dict[str, Any]:
    """The chat completions body sent to the model."""
    # A fixed shape: page text can never add tools, functions or other options.
    body: dict[str, Any] = {"model": req.model, "messages": context.messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}  # exact usage for the ledger
    return body


def cite(context: Context, answer: Answer, text: str, cited: list[int]) -> list[bytes]:
    """The events for checked text and the citations it completed (the text joins ``answer``)."""
    events = []
    if text:
        answer.text += text
        events.append(sse("delta", {"text": text}))
    events.extend(sse("citation", citation(context, n)) for n in cited)
    return events


def citation(context: Context, n: int) -> dict[str, Any]:
    """Citation ``[n]``: the passage's id, page and offsets."""
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


def usage(context: Context, answer: Answer) -> dict[str, Any]:
    """Tokens of the prompt and the answer (counted when the model did not say), and per page."""
    completion = answer.completion_tokens
    if completion is None:
        completion = count_tokens(answer.text)
    return {
        "prompt_tokens": context.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": context.prompt_tokens + completion,
        "pages": [u.as_dict() for u in context.usage],
    }


def parse_chunk(raw: bytes) -> dict[str, Any] | None:
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


def delta_content(chunk: dict[str, Any]) -> str:
    """The text of a chat completion chunk's first choice ("" when it has none)."""
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""


def message_content(reply: dict[str, Any]) -> str:
    """The text of a chat completion's first choice ("" when it has none)."""
    choices = reply.get("choices") or []
    if not choices:
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def checked(checker: CitationChecker, text: str) -> str:
    """A whole answer through the citation checker."""
    shown, _ = checker.feed(text)
    rest, _ = checker.finish()
    return shown + rest
