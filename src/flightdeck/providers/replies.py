"""Checks on a 2xx upstream reply, made inside the attempt: a reply that is not what the API
promises (a sign-in page, an empty body, truncated JSON, JSON of another shape, a stream of
garbage) raises ``InvalidUpstreamReply``, a failed attempt like a 5xx: retried, failed over,
counted by the circuit, and answered 502 with a redacted summary of what came back, e.g.

    upstream answered 200 text/html: '<!doctype html><title>Sign in</title>...' (expected JSON)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from flightdeck.core.errors import InvalidUpstreamReply, UpstreamError
from flightdeck.core.redact import summarize

__all__ = ["InvalidUpstreamReply", "describe", "event_data", "json_reply"]

PREVIEW_CHARS = 120

ShapeCheck = Callable[[dict[str, Any]], str | None]


def describe(status: int, content_type: str | None, raw: bytes, expected: str) -> str:
    """``upstream answered 200 text/html: '<!doctype ...' (expected JSON)``, redacted."""
    kind = (content_type or "without a content type").split(";")[0].strip() or "?"
    preview = summarize(raw, PREVIEW_CHARS) if raw.strip() else ""
    shown = f"'{preview}'" if preview else "an empty body"
    return f"upstream answered {status} {kind}: {shown} (expected {expected})"


def is_json_type(content_type: str | None) -> bool:
    """``application/json``, ``application/*+json`` (or no content type: judged by the body)."""
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def is_event_stream(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "text/event-stream"


def json_reply(
    status: int, content_type: str | None, raw: bytes, shape: ShapeCheck, expected: str
) -> dict[str, Any]:
    """The reply as a JSON object of the expected ``shape``; InvalidUpstreamReply otherwise.

    ``shape`` returns None for a valid document, else what is wrong with it.
    """
    if not is_json_type(content_type):
        raise InvalidUpstreamReply(describe(status, content_type, raw, "JSON"))
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidUpstreamReply(describe(status, content_type, raw, "JSON")) from None
    if not isinstance(data, dict):
        raise InvalidUpstreamReply(describe(status, content_type, raw, expected))
    problem = shape(data)
    if problem is not None:
        raise InvalidUpstreamReply(describe(status, content_type, raw, f"{expected}; {problem}"))
    return data


def event_data(data: bytes, shape: ShapeCheck, expected: str) -> dict[str, Any]:
    """One stream event's ``data`` as a JSON object of ``shape``; InvalidUpstreamReply if not.

    An event that carries an ``error`` object (OpenAI and Anthropic send one mid-stream) is an
    upstream failure and says so.
    """
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidUpstreamReply(
            f"upstream sent a stream event that is not JSON: '{summarize(data, PREVIEW_CHARS)}'"
            f" (expected {expected})"
        ) from None
    if not isinstance(event, dict):
        raise InvalidUpstreamReply(
            f"upstream sent a stream event that is not a JSON object: "
            f"'{summarize(data, PREVIEW_CHARS)}' (expected {expected})"
        )
    err = event.get("error")
    if err is not None and (event.get("type") in (None, "error")):
        message = err.get("message") if isinstance(err, dict) else err
        raise UpstreamError(f"upstream failed mid-stream: {summarize(str(message))}")
    problem = shape(event)
    if problem is not None:
        raise InvalidUpstreamReply(
            f"upstream sent a stream event of the wrong shape: "
            f"'{summarize(data, PREVIEW_CHARS)}' (expected {expected}; {problem})"
        )
    return event


# ---- shapes of the documents each API promises ------------------------------------------


def chat_completion(data: dict[str, Any]) -> str | None:
    """OpenAI ``chat.completion``: ``choices`` of objects, each with a ``message`` object."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return "no 'choices' array"
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            return "a choice without a 'message' object"
    return _usage(data)


def chat_chunk(data: dict[str, Any]) -> str | None:
    """OpenAI ``chat.completion.chunk``: ``choices`` of objects with a ``delta`` object (the
    final usage chunk has no choices)."""
    choices = data.get("choices")
    if choices is None and isinstance(data.get("usage"), dict):
        return None  # a usage-only chunk from a server that leaves 'choices' out
    if not isinstance(choices, list):
        return "no 'choices' array"
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("delta", {}), dict):
            return "a choice without a 'delta' object"
    return _usage(data)


def embeddings(data: dict[str, Any]) -> str | None:
    """OpenAI embeddings list: ``data`` of objects whose ``embedding`` is numbers or base64."""
    items = data.get("data")
    if not isinstance(items, list) or not items:
        return "no 'data' array of embeddings"
    for item in items:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, str):
            continue
        if not isinstance(vector, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in vector
        ):
            return "an item whose 'embedding' is not an array of numbers or a base64 string"
    return _usage(data)


def anthropic_message(data: dict[str, Any]) -> str | None:
    """Anthropic ``message``: a ``content`` array of typed blocks."""
    content = data.get("content")
    if data.get("type", "message") != "message" or not isinstance(content, list):
        return "not a message with a 'content' array"
    if not all(isinstance(block, dict) and isinstance(block.get("type"), str) for block in content):
        return "a content block without a 'type'"
    return None


def anthropic_event(data: dict[str, Any]) -> str | None:
    """An Anthropic stream event: an object with a string ``type``."""
    return None if isinstance(data.get("type"), str) else "no event 'type'"


def gemini_response(data: dict[str, Any]) -> str | None:
    """Gemini ``GenerateContentResponse``: ``candidates`` with ``content``, or a
    ``promptFeedback`` saying why there are none."""
    candidates = data.get("candidates")
    if candidates is None:
        return None if isinstance(data.get("promptFeedback"), dict) else "no 'candidates'"
    if not isinstance(candidates, list):
        return "'candidates' is not an array"
    for candidate in candidates:
        if not isinstance(candidate, dict):
            return "a candidate that is not an object"
        content = candidate.get("content", {})
        if not isinstance(content, dict) or not isinstance(content.get("parts", []), list):
            return "a candidate whose 'content' has no 'parts' array"
    return None


def gemini_event(data: dict[str, Any]) -> str | None:
    """A Gemini stream chunk: a response, or a chunk carrying only ``usageMetadata``."""
    if "candidates" not in data and isinstance(data.get("usageMetadata"), dict):
        return None
    return gemini_response(data)


def any_object(data: dict[str, Any]) -> str | None:
    """Any JSON object (for small replies read field by field, such as token counts)."""
    return None


def _usage(data: dict[str, Any]) -> str | None:
    usage = data.get("usage")
    return None if usage is None or isinstance(usage, dict) else "'usage' is not an object"
