"""Reading and bounding assistant requests: clear 400/413 errors naming the field."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, cast, get_args

from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.prompts import Mode
from flightdeck.core.errors import InvalidRequest, PayloadTooLarge
from flightdeck.core.settings import AssistantSettings

MODES: tuple[str, ...] = get_args(Mode)
CONTENT_FIELDS = ("html", "text", "pdf_base64")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """An assistant chat request, parsed and bounded."""

    model: str
    question: str
    mode: Mode
    pages: list[PageInput]
    conversation_id: str | None
    stream: bool
    prompt: str | None


def parse_chat(body: dict[str, Any], limits: AssistantSettings) -> ChatRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", param="model")
    mode = body.get("mode", "chat")
    if mode not in MODES:
        raise InvalidRequest(f"'mode' must be one of {', '.join(MODES)}", param="mode")
    question = body.get("question", "")
    if not isinstance(question, str):
        raise InvalidRequest("'question' must be a string", param="question")
    if len(question) > limits.max_question_chars:
        raise PayloadTooLarge(
            f"'question' is longer than {limits.max_question_chars} characters", param="question"
        )
    if mode == "chat" and not question.strip():
        raise InvalidRequest("'question' must not be empty in chat mode", param="question")
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise InvalidRequest("'conversation_id' must be a string", param="conversation_id")
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidRequest("'prompt' must be a prompt version string", param="prompt")
    raw_pages = body.get("pages", [])
    pages = parse_pages(raw_pages, limits)
    if not pages and conversation_id is None:
        raise InvalidRequest("'pages' must hold at least one page", param="pages")
    if mode == "compare" and conversation_id is None and len(pages) < 2:
        raise InvalidRequest("'compare' mode needs at least two pages", param="pages")
    return ChatRequest(
        model, question.strip(), cast(Mode, mode), pages, conversation_id, stream, prompt
    )


def parse_pages(raw: Any, limits: AssistantSettings) -> list[PageInput]:
    if not isinstance(raw, list):
        raise InvalidRequest("'pages' must be an array of pages", param="pages")
    if len(raw) > limits.max_pages:
        raise PayloadTooLarge(
            f"too many pages: {len(raw)} (at most {limits.max_pages})", param="pages"
        )
    return [parse_page(p, i, limits, allow_url_only=limits.fetch_urls) for i, p in enumerate(raw)]


def parse_page(
    raw: Any, index: int, limits: AssistantSettings, *, allow_url_only: bool = False
) -> PageInput:
    param = f"pages[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{param} must be an object", param=param)
    url = raw.get("url", "")
    title = raw.get("title", "")
    selection = raw.get("selection")
    for name, value in (("url", url), ("title", title)):
        if not isinstance(value, str) or len(value) > 4096:
            raise InvalidRequest(
                f"{param}.{name} must be a string (at most 4096 characters)",
                param=f"{param}.{name}",
            )
    if selection is not None and not isinstance(selection, str):
        raise InvalidRequest(f"{param}.selection must be a string", param=f"{param}.selection")
    given = [f for f in CONTENT_FIELDS if raw.get(f) is not None]
    if len(given) > 1:
        raise InvalidRequest(
            f"{param} must have only one of html, text, pdf_base64 (got {', '.join(given)})",
            param=param,
        )
    if not given and not (selection and selection.strip()):
        if allow_url_only and url:
            return PageInput(url=url, title=title)
        hint = "" if limits.fetch_urls else "; server-side fetching of urls is disabled"
        raise InvalidRequest(f"{param} needs html, text or pdf_base64{hint}", param=param)
    field = given[0] if given else "selection"
    value = raw.get(field) if given else selection
    if not isinstance(value, str):
        raise InvalidRequest(f"{param}.{field} must be a string", param=f"{param}.{field}")
    if len(value) > limits.max_page_bytes * (4 / 3 if field == "pdf_base64" else 1):
        raise PayloadTooLarge(
            f"{param}.{field} is larger than {limits.max_page_bytes} bytes",
            param=f"{param}.{field}",
        )
    if selection is not None and len(selection) > limits.max_page_bytes:
        raise PayloadTooLarge(f"{param}.selection is too large", param=f"{param}.selection")
    if field == "pdf_base64":
        try:
            pdf = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                f"{param}.pdf_base64 is not valid base64", param=f"{param}.pdf_base64"
            ) from None
        return PageInput(url, title, pdf=pdf, selection=selection)
    if field == "html":
        return PageInput(url, title, html=value, selection=selection)
    if field == "text":
        return PageInput(url, title, text=value, selection=selection)
    return PageInput(url, title, selection=selection)
