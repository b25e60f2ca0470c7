"""Tokens a request may use, counted before the call so they can be reserved.

The estimate counts everything the model reads, not only message text: tool (function)
definitions, ``response_format`` schemas, tool-call arguments and tool results, images (by
OpenAI's tile rule, ``image_tokens.py``) and other binary parts (audio, files). The Anthropic
Messages and OpenAI Responses APIs are translated to a chat body before admission
(``flightdeck.wire``), so one count serves all three. ``check_output_params`` refuses
``max_tokens``, ``max_completion_tokens`` and ``n`` that are not positive integers, or that
are over the configured caps (``limits.max_output_tokens``, ``limits.max_choices``).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import wave
from typing import Any

import orjson

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.tokens import count_tokens, message_text
from flightdeck.limits.image_tokens import image_part_tokens

DEFAULT_MAX_OUTPUT_TOKENS = 1024
OUTPUT_PARAMS = ("max_completion_tokens", "max_tokens")
TOOLS_TOKENS = 12  # OpenAI's overhead for a request with function definitions
TOOL_TOKENS = 7  # and for each function
AUDIO_TOKENS_PER_SECOND = 10  # OpenAI: one audio token per 100 ms of input
AUDIO_BYTES_PER_SECOND = 16_000  # compressed audio whose length is unknown: 128 kbit/s
FILE_BYTES_PER_TOKEN = 32  # files (PDF pages as text and image): a rough upper count


def check_output_params(body: dict[str, Any], max_output: int, max_choices: int) -> None:
    """Raise ``InvalidRequest`` (400) when ``max_tokens``/``max_completion_tokens``/``n`` is
    present (not null) but not an integer >= 1, or is over ``max_output``/``max_choices``."""
    caps = {"max_completion_tokens": max_output, "max_tokens": max_output, "n": max_choices}
    for name, cap in caps.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"'{name}' must be an integer of at least 1", param=name)
        if value > cap:
            raise InvalidRequest(f"'{name}' must be at most {cap} on this server", param=name)


def max_output_tokens(body: dict[str, Any], default: int = DEFAULT_MAX_OUTPUT_TOKENS) -> int:
    """``max_completion_tokens`` or ``max_tokens`` from a chat body, else ``default``."""
    for name in OUTPUT_PARAMS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def estimate_chat_tokens(
    body: dict[str, Any], default_max_output: int = DEFAULT_MAX_OUTPUT_TOKENS
) -> tuple[int, int]:
    """(prompt tokens, most output tokens) of a chat completion request."""
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return count_chat_prompt(body), max_output_tokens(body, default_max_output) * choices


def count_chat_prompt(body: dict[str, Any]) -> int:
    """Prompt tokens of a chat body: messages (with tool calls, tool results and every kind of
    part), tool definitions, ``response_format`` and an object ``tool_choice``."""
    messages = body.get("messages")
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            total += message_tokens(message)
    tools = [t for t in (body.get("tools") or []) + (body.get("functions") or []) if t]
    if tools:
        total += TOOLS_TOKENS + sum(TOOL_TOKENS + json_tokens(t) for t in tools)
    for name in ("response_format", "tool_choice", "prediction"):
        value = body.get(name)
        if isinstance(value, dict):
            total += json_tokens(value)
    return total


def message_tokens(message: dict[str, Any]) -> int:
    """One message: 3 tokens of framing, its content, name, tool calls and reasoning."""
    total = 3 + content_tokens(message.get("content"))
    if name := message.get("name"):
        total += 1 + count_tokens(str(name))
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            function = call.get("function") or {}
            if isinstance(function, dict):
                total += 3 + count_tokens(str(function.get("name") or ""))
                total += count_tokens(str(function.get("arguments") or ""))
    if isinstance(message.get("function_call"), dict):
        total += json_tokens(message["function_call"])
    if isinstance(message.get("reasoning_content"), str):
        total += count_tokens(message["reasoning_content"])
    return total


def content_tokens(content: Any) -> int:
    """A message's content: a string, or a list of text, image, audio and file parts."""
    if isinstance(content, str):
        return count_tokens(content)
    if not isinstance(content, list):
        return 0
    total = count_tokens(message_text(content))
    for part in content:
        if not isinstance(part, dict) or part.get("type") == "text":
            continue
        kind = part.get("type")
        if kind == "image_url":
            total += image_part_tokens(part)
        elif kind == "input_audio":
            total += audio_tokens(part.get("input_audio"))
        elif kind == "file":
            file = part.get("file")
            data = file.get("file_data") if isinstance(file, dict) else None
            total += file_tokens(str(data or ""))
        else:  # a part kind this count does not know: its JSON, as text
            total += json_tokens(part)
    return total


def audio_tokens(audio: Any) -> int:
    """An ``input_audio`` part: 10 tokens a second, the length read from a WAV header, else
    taken from the size at 128 kbit/s."""
    if not isinstance(audio, dict):
        return 0
    raw = decoded(str(audio.get("data") or ""))
    seconds = len(raw) / AUDIO_BYTES_PER_SECOND
    if audio.get("format") == "wav":
        try:
            with wave.open(io.BytesIO(raw)) as wav:
                seconds = wav.getnframes() / max(1, wav.getframerate())
        except (wave.Error, EOFError):
            pass
    return max(1, math.ceil(seconds * AUDIO_TOKENS_PER_SECOND))


def file_tokens(data: str) -> int:
    """A ``file`` part (a base64 or ``data:`` URL payload), by its size."""
    return max(1, len(decoded(data)) // FILE_BYTES_PER_TOKEN)


def decoded(data: str) -> bytes:
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return data.encode()


def json_tokens(value: Any) -> int:
    """Tokens of ``value`` written as JSON (tool schemas, response formats)."""
    try:
        return count_tokens(orjson.dumps(value).decode())
    except TypeError:
        return count_tokens(str(value))


def estimate_embedding_tokens(body: dict[str, Any]) -> int:
    """Input tokens of an embeddings request (strings counted, token arrays by length)."""
    value = body.get("input")
    items = value if isinstance(value, list) else [value]
    total = 0
    for item in items:
        if isinstance(item, str):
            total += count_tokens(item)
        elif isinstance(item, int):
            total += 1
        elif isinstance(item, list):
            total += len(item)
    return total


def payload_chars(value: Any, stop: int) -> int:
    """Characters of strings (and items of lists) in ``value``, counted until ``stop``: a cheap
    size to decide whether tokenizing it would hold up the event loop."""
    seen = 0
    pending = [value]
    while pending and seen < stop:
        item = pending.pop()
        if isinstance(item, str):
            seen += len(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            seen += len(item)
            pending.extend(item)
    return seen
