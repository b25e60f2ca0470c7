"""Context engineering, start to end: pages -> passages -> ranking -> budget -> messages.

Processed pages are cached by the hash of what the client sent, so a follow-up question on the
same page skips extraction and chunking (and, through the encoder's cache, embedding).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flightdeck.assistant.budget import PageUsage, fit_budget
from flightdeck.assistant.chunking import chunk
from flightdeck.assistant.embeddings import PassageEncoder
from flightdeck.assistant.errors import PageError
from flightdeck.assistant.extract import extract_page, extract_text
from flightdeck.assistant.ocr import NO_ENGINE, OcrEngine
from flightdeck.assistant.pages import PageInput, Passage, UnreadablePage
from flightdeck.assistant.pdf import extract_pdf
from flightdeck.assistant.prompts import DEFAULT_QUESTIONS, Mode, PromptPage, render_system_prompt
from flightdeck.assistant.ranking import Ranked, rank_passages
from flightdeck.assistant.spotlight import new_boundary
from flightdeck.core.settings import AssistantSettings
from flightdeck.core.tokens import count_message_tokens
from flightdeck.telemetry.stages import Stage, no_stage
from flightdeck.text.language import detect_language


@dataclass(slots=True)
class ProcessedPage:
    """A page as the assistant sees it: reader text and its passages."""

    key: str
    url: str
    title: str
    text: str
    passages: list[Passage]
    language: str = ""  # ISO 639-1 code of the page's text ("" = unknown)
    source_pages: int = 0  # pages of a PDF (0: not a PDF)
    unreadable: tuple[UnreadablePage, ...] = ()  # PDF pages whose text is missing


@dataclass(frozen=True, slots=True)
class Source:
    """A numbered passage the prompt shows the model, which it cites as ``[n]``."""

    n: int
    page: int
    passage: Passage
    score: float

    def as_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "n": self.n,
            "id": p.id,
            "page": self.page,
            "start": p.start,
            "end": p.end,
            "score": round(self.score, 4),
            "page_no": p.page_no,
            "heading": p.heading,
            "text": p.text,
        }


@dataclass(frozen=True, slots=True)
class Context:
    """What one answer is built from: the prompt's messages, its sources and what each page used."""

    messages: list[dict[str, Any]]
    sources: list[Source]
    usage: list[PageUsage]
    prompt_tokens: int
    prompt_version: str
    boundary: str = ""  # the fence boundary of this request's prompt
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # {page, page_no, reason}


def page_key(page: PageInput) -> str:
    h = hashlib.sha256()
    for part in (page.url, page.title, page.html, page.text, page.selection):
        h.update(b"\x00" + (part or "").encode())
    h.update(b"\x00" + (page.pdf or b""))
    return h.hexdigest()


def process_page(
    page: PageInput, index: int, *, ocr: OcrEngine | None = None, no_ocr: str = NO_ENGINE
) -> ProcessedPage:
    """Extract and chunk one page; a page with no readable text is an error naming it.

    PDF pages without a text layer go through ``ocr`` (None: ``no_ocr`` says why not).
    """
    if page.selection and page.selection.strip():
        extracted = extract_text(page.selection, page.title)
    elif page.pdf is not None:
        extracted = extract_pdf(page.pdf, index, page.title, ocr=ocr, no_ocr=no_ocr)
    else:
        extracted = extract_page(page, index)
    if not extracted.blocks:
        raise PageError(index, "no readable text could be extracted", code="empty_page")
    return ProcessedPage(
        page_key(page),
        page.url,
        extracted.title or page.title,
        extracted.text,
        chunk(extracted),
        detect_language(extracted.text),
        extracted.source_pages,
        extracted.unreadable,
    )


class PageCache:
    """Processed pages by content key, least recently used evicted first."""

    def __init__(
        self, size: int = 128, *, ocr: OcrEngine | None = None, no_ocr: str = NO_ENGINE
    ) -> None:
        self.size = size
        self.ocr, self.no_ocr = ocr, no_ocr
        self._pages: OrderedDict[str, ProcessedPage] = OrderedDict()
        self.processed = 0  # pages extracted and chunked (cache misses)

    def get(self, key: str) -> ProcessedPage | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, page: ProcessedPage) -> None:
        self._pages[page.key] = page
        self._pages.move_to_end(page.key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)

    def process(self, page: PageInput, index: int) -> ProcessedPage:
        cached = self.get(page_key(page))
        if cached is not None:
            return cached
        processed = process_page(page, index, ocr=self.ocr, no_ocr=self.no_ocr)
        self.processed += 1
        self.put(processed)
        return processed


async def build_context(
    question: str,
    mode: Mode,
    pages: Sequence[ProcessedPage],
    history: Sequence[dict[str, Any]],
    *,
    settings: AssistantSettings,
    model: str,
    prompt: str | None,
    encoder: PassageEncoder | None,
    stage: Stage = no_stage,
) -> Context:
    """Rank, fit and render: the chat messages to send, and the sources they contain.
    ``stage`` times ranking (``assistant.rank``) and fitting the budget (``assistant.budget``)."""
    model_settings = settings.for_model(model)
    version = prompt or model_settings.prompt
    query = question or DEFAULT_QUESTIONS[mode]
    passage_lists = [p.passages for p in pages]
    with stage("assistant.rank"):
        ranked = await _rank(query, mode, passage_lists, settings, encoder)
    with stage("assistant.budget"):
        selection = fit_budget(
            passage_lists,
            ranked,
            model_settings.token_budget,
            whole_page_tokens=settings.whole_page_tokens,
            per_page_share=mode == "compare",
        )
    usage = [
        dataclasses.replace(u, source_pages=p.source_pages, unreadable=_numbers(p.unreadable))
        for u, p in zip(selection.usage, pages, strict=True)
    ]
    unreadable = [{"page": i} | u.as_dict() for i, p in enumerate(pages) for u in p.unreadable]
    sources: list[Source] = []
    prompt_pages: list[PromptPage] = []
    for i, (page, chosen) in enumerate(zip(pages, selection.chosen, strict=True)):
        numbered = []
        for passage in chosen:
            source = Source(len(sources) + 1, i, passage, selection.scores.get(passage.id, 0.0))
            sources.append(source)
            numbered.append((source.n, passage))
        prompt_pages.append(PromptPage(i + 1, page.title, page.url, numbered))
    boundary = new_boundary()
    system = render_system_prompt(version, mode, prompt_pages, boundary)
    messages = [{"role": "system", "content": system}, *history, {"role": "user", "content": query}]
    return Context(
        messages, sources, usage, count_message_tokens(messages), version, boundary, unreadable
    )


def _numbers(pages: Sequence[UnreadablePage]) -> tuple[int, ...]:
    return tuple(u.page_no for u in pages)


async def _rank(
    query: str,
    mode: Mode,
    pages: Sequence[Sequence[Passage]],
    settings: AssistantSettings,
    encoder: PassageEncoder | None,
) -> list[Ranked]:
    if mode in ("summarize", "key_points", "compare") and query in DEFAULT_QUESTIONS.values():
        return _spread(pages)  # no question to rank by: cover each page from start to end
    return await rank_passages(
        query,
        pages,
        encoder=encoder if settings.embeddings else None,
        dense_candidates=settings.dense_candidates,
        wait_for_vectors=settings.embed_before_answer,
    )


def _spread(pages: Sequence[Sequence[Passage]]) -> list[Ranked]:
    """An order that covers a page evenly: first, middle, quarters, eighths, ..."""
    ranked: list[Ranked] = []
    for i, ps in enumerate(pages):
        n = len(ps)
        order: list[int] = []
        seen: set[int] = set()
        step = n
        while step >= 1 and len(order) < n:
            fresh = [k for k in range(0, n, step) if k not in seen]
            order.extend(fresh)
            seen.update(fresh)
            step //= 2
        ranked.extend(Ranked(ps[k], i, 1.0 - rank / max(n, 1)) for rank, k in enumerate(order))
    ranked.sort(key=lambda r: -r.score)
    return ranked
