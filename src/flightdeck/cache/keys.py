"""Canonical request keys: what makes two chat requests "the same request" for the cache.

A chat completions body (OpenAI wire format, https://platform.openai.com/docs/api-reference/chat)
is reduced to its canonical form: keys sorted, JSON whitespace gone, nulls and parameters at
their documented defaults dropped, equivalent spellings unified, and the fields that cannot
change the answer left out. The SHA-256 of that form is the request hash.

Left out (they do not change the answer):
  ``stream``, ``stream_options`` (the cache replays either form; ``include_usage`` is honoured
  on replay), ``user``, ``safety_identifier``, ``prompt_cache_key`` (abuse tracking and the
  vendor's own prompt cache), ``metadata``, ``store`` (stored-completions bookkeeping),
  ``service_tier`` (latency, not content), ``model`` (the model group is part of the key).
Kept (they change the answer or its shape): messages, tools, tool_choice, functions,
  response_format, temperature, top_p, seed, n, stop, logit_bias, logprobs, top_logprobs,
  presence/frequency penalties, max tokens, parallel_tool_calls, reasoning_effort, modalities,
  audio, prediction, web_search_options, verbosity, and any field we do not know.
Unified: ``max_tokens`` is ``max_completion_tokens``; ``stop: "x"`` is ``stop: ["x"]``; a
  content array holding one text part is that text; whole floats are integers (``0.0`` is
  ``0``). Text inside messages is kept byte for byte: a space there is a different prompt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

IGNORED = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "metadata",
        "store",
        "service_tier",
    }
)

# Documented defaults of the chat completions API: sending them is the same as omitting them.
DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "n": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "logit_bias": {},
    "stop": [],
    "response_format": {"type": "text"},
    "parallel_tool_calls": True,
    "tools": [],
}


@dataclass(frozen=True, slots=True)
class SemanticParts:
    """A request split for the semantic cache: the text of the last user message, and the
    hash of everything else (system prompt, earlier turns, tools, parameters)."""

    text: str
    context_hash: str


def canonical_request(body: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of a chat completions ``body`` (a new dict; ``body`` is untouched)."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in IGNORED or value is None:
            continue
        value = _normal(value)
        if name == "max_tokens":
            name = "max_completion_tokens"
        elif name == "stop" and isinstance(value, str):
            value = [value]
        elif name == "messages" and isinstance(value, list):
            value = [_message(m) for m in value]
        if name in DEFAULTS and _same(value, DEFAULTS[name]):
            continue
        out[name] = value
    if out.get("tool_choice") == ("auto" if out.get("tools") else "none"):
        del out["tool_choice"]  # the documented default for each case
    return out


def request_hash(body: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical form of ``body``."""
    return _digest(canonical_request(body))


def semantic_parts(body: dict[str, Any]) -> SemanticParts | None:
    """The last user message's text and the hash of the rest of the request, or None when the
    request does not end with a user message made only of text (tool results, images...)."""
    canonical = canonical_request(body)
    messages = canonical.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    content = last.get("content")
    if not isinstance(content, str) or not content.strip():
        return None
    rest = dict(last)
    del rest["content"]  # everything of the last turn but its text (name, ...) must match too
    context = {**canonical, "messages": [*messages[:-1], rest]}
    return SemanticParts(content.strip(), _digest(context))


def _same(value: Any, default: Any) -> bool:
    """Equal and of the same type (``False == 0`` in Python, not on the wire)."""
    return type(value) is type(default) and bool(value == default)


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if (
        isinstance(content, list)
        and len(content) == 1
        and isinstance(content[0], dict)
        and content[0].get("type") == "text"
        and isinstance(content[0].get("text"), str)
        and len(content[0]) == 2
    ):
        return {**message, "content": content[0]["text"]}
    return message


def _normal(value: Any) -> Any:
    """Nulls dropped from objects, whole floats as integers, recursively."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
