"""Tokens a request may use, counted before the call so they can be reserved."""

from __future__ import annotations

from typing import Any

from flightdeck.core.tokens import count_message_tokens, count_tokens

DEFAULT_MAX_OUTPUT_TOKENS = 1024


def max_output_tokens(body: dict[str, Any], default: int = DEFAULT_MAX_OUTPUT_TOKENS) -> int:
    """``max_completion_tokens`` or ``max_tokens`` from a chat body, else ``default``."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def estimate_chat_tokens(
    body: dict[str, Any], default_max_output: int = DEFAULT_MAX_OUTPUT_TOKENS
) -> tuple[int, int]:
    """(prompt tokens, most output tokens) of a chat completion request."""
    messages = body.get("messages")
    prompt = count_message_tokens(messages) if isinstance(messages, list) else 0
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return prompt, max_output_tokens(body, default_max_output) * choices


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
