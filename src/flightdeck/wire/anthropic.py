"""Anthropic Messages API <-> the internal chat-completions model: requests, replies, usage, errors.

Source: Anthropic's API reference (Messages, "Streaming Messages", "Extended thinking",
"Tool use", "Prompt caching", "Errors") and the types of the official ``anthropic`` SDK.
Streams are in ``wire.anthropic_stream``. A field the other side cannot carry raises
``InvalidRequest`` (400) naming it.
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.core.errors import InvalidRequest, UpstreamError
from flightdeck.wire.anthropic_messages import (
    anthropic_to_chat_messages,
    chat_to_anthropic_messages,
)
from flightdeck.wire.chat import Notes, Usage, count, new_id
from flightdeck.wire.content import check_only, harmless, refuse

TARGET = "an Anthropic model"
DEFAULT_MAX_TOKENS = 4096

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}

# Chat parameters an Anthropic request can carry (the rest: 400, unless at their default).
CHAT_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "stream",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "thinking",
        "reasoning_effort",
        "response_format",
        "user",
        "cache_control",
    }
)
DEFAULTED_KEYS = frozenset(
    {"n", "logprobs", "presence_penalty", "frequency_penalty", "stream_options"}
    | {"store", "service_tier"}
)
ANTHROPIC_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "output_config",
        "cache_control",
        "service_tier",
    }
)


# ---- requests -------------------------------------------------------------------------------


def chat_to_anthropic_request(
    body: dict[str, Any],
    *,
    model: str,
    notes: Notes | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> dict[str, Any]:
    """A chat-completions request as a Messages API request for ``model``."""
    for key in body:
        if key in CHAT_KEYS:
            continue
        if key in DEFAULTED_KEYS and harmless(body, key):
            continue
        refuse(key, TARGET)
    system, messages = chat_to_anthropic_messages(body.get("messages") or [], notes or Notes())
    out: dict[str, Any] = {"model": model, "messages": messages}
    if system:
        out["system"] = system
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = out["max_tokens"] or default_max_tokens
    for key in ("temperature", "top_p", "top_k", "thinking", "cache_control"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("stream"):
        out["stream"] = True
    if body.get("user") is not None:
        out["metadata"] = {"user_id": body["user"]}
    if body.get("tools"):
        out["tools"] = [_tool_to_anthropic(t, i) for i, t in enumerate(body["tools"])]
    choice = _tool_choice_to_anthropic(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    config = _output_config(body)
    if config:
        out["output_config"] = config
    return out


def _tool_to_anthropic(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        refuse(f"tools[{i}].type", TARGET, "only function tools fit")
    fn = tool.get("function") or {}
    if not isinstance(fn.get("name"), str):
        raise InvalidRequest(f"'tools[{i}].function.name' is required", param=f"tools[{i}]")
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description") is not None:
        out["description"] = fn["description"]
    out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    if fn.get("strict") is not None:
        out["strict"] = fn["strict"]
    if tool.get("cache_control") is not None:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice_to_anthropic(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice is None:
        out = None
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "none":
        out = {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        refuse("tool_choice", TARGET)
    if parallel is False:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _output_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in ("low", "medium", "high", "xhigh", "max"):
            refuse("reasoning_effort", TARGET, f"{effort!r} has no Anthropic effort level")
        config["effort"] = effort
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        config["format"] = {"type": "json_schema", "schema": schema}
    elif fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        refuse("response_format", TARGET, "only json_schema (or text) fits")
    return config


def anthropic_to_chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages API request (``POST /v1/messages``) as a chat-completions request."""
    check_only(body, ANTHROPIC_KEYS, "the chat model")
    if body.get("service_tier") not in (None, "auto"):
        refuse("service_tier", "the chat model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array", param="messages")
    out: dict[str, Any] = {"model": body.get("model")}
    out["messages"] = anthropic_to_chat_messages(body.get("system"), messages)
    if body.get("max_tokens") is not None:
        out["max_completion_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p", "top_k", "thinking", "stream", "cache_control"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    metadata = body.get("metadata") or {}
    check_only(metadata, frozenset({"user_id"}), "the chat model", "metadata.")
    if metadata.get("user_id") is not None:
        out["user"] = metadata["user_id"]
    if body.get("tools"):
        out["tools"] = [_tool_to_chat(t, i) for i, t in enumerate(body["tools"])]
    _tool_choice_to_chat(body.get("tool_choice"), out)
    config = body.get("output_config") or {}
    check_only(config, frozenset({"effort", "format"}), "the chat model", "output_config.")
    if config.get("effort") is not None:
        out["reasoning_effort"] = config["effort"]
    if config.get("format") is not None:
        fmt = config["format"]
        if fmt.get("type") != "json_schema":
            refuse("output_config.format.type", "the chat model")
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt.get("schema")},
        }
    return out


def _tool_to_chat(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, dict) else None
        refuse(f"tools[{i}].type", "the chat model", f"server tool {kind!r}")
    allowed = frozenset({"name", "description", "input_schema", "strict", "cache_control", "type"})
    check_only(tool, allowed, "the chat model", f"tools[{i}].")
    fn: dict[str, Any] = {"name": tool.get("name")}
    if tool.get("description") is not None:
        fn["description"] = tool["description"]
    fn["parameters"] = tool.get("input_schema")
    if tool.get("strict") is not None:
        fn["strict"] = tool["strict"]
    out: dict[str, Any] = {"type": "function", "function": fn}
    if tool.get("cache_control") is not None:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice_to_chat(choice: Any, out: dict[str, Any]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    mapping: dict[str | None, Any] = {"auto": "auto", "any": "required", "none": "none"}
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in mapping:
        out["tool_choice"] = mapping[kind]
    else:
        refuse("tool_choice", "the chat model")
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


# ---- replies --------------------------------------------------------------------------------


def anthropic_to_chat_completion(message: dict[str, Any]) -> dict[str, Any]:
    """A Messages API reply as a chat completion."""
    text: list[str] = []
    reasoning: list[str] = []
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": block.get("thinking", ""),
                    "signature": block.get("signature", ""),
                }
            )
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": block.get("data", "")})
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            fn = {"name": block.get("name", ""), "arguments": arguments}
            calls.append({"id": block.get("id", ""), "type": "function", "function": fn})
        else:
            raise UpstreamError(f"the upstream answered with a {kind!r} block, which has no place")
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text else None}
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    if blocks:
        reply["thinking_blocks"] = blocks
    if calls:
        reply["tool_calls"] = calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": reply,
        "finish_reason": STOP_TO_FINISH.get(message.get("stop_reason") or "end_turn", "stop"),
    }
    if message.get("stop_sequence") is not None:
        choice["stop_reason"] = message["stop_sequence"]
    return {
        "id": message.get("id") or new_id("msg"),
        "object": "chat.completion",
        "created": 0,
        "model": message.get("model", ""),
        "choices": [choice],
        "usage": usage_from_anthropic(message.get("usage") or {}).to_chat(),
    }


def chat_to_anthropic_message(
    completion: dict[str, Any], model: str | None = None, notes: Notes | None = None
) -> dict[str, Any]:
    """A chat completion as a Messages API reply (what ``POST /v1/messages`` answers).

    Gemini thought signatures have no place in it: they are dropped and counted in ``notes``.
    """
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content = thinking_blocks_out(message)
    if notes is not None:
        carriers = [message, *(message.get("tool_calls") or [])]
        notes.dropped_thinking += sum(1 for item in carriers if item.get("extra_content"))
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        content.append(tool_use_block(call, parse_arguments(call)))
    stop_reason = FINISH_TO_STOP.get(choice.get("finish_reason") or "stop", "end_turn")
    stop_sequence = choice.get("stop_reason")
    if not isinstance(stop_sequence, str):
        stop_sequence = None
    elif stop_reason == "end_turn":
        stop_reason = "stop_sequence"
    return {
        "id": completion.get("id") or new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model or completion.get("model", ""),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_to_anthropic(Usage.from_chat(completion.get("usage"))),
    }


def thinking_blocks_out(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat message's thinking as Anthropic blocks; reasoning text alone becomes one thinking
    block with an empty signature (an Anthropic upstream would refuse it back: it is dropped
    and counted then)."""
    blocks = message.get("thinking_blocks")
    if blocks:
        out = []
        for block in blocks:
            if block.get("type") == "redacted_thinking":
                out.append({"type": "redacted_thinking", "data": block.get("data", "")})
            else:
                out.append(
                    {
                        "type": "thinking",
                        "thinking": block.get("thinking", ""),
                        "signature": block.get("signature", ""),
                    }
                )
        return out
    if message.get("reasoning_content"):
        return [{"type": "thinking", "thinking": message["reasoning_content"], "signature": ""}]
    return []


def parse_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A chat tool call's ``arguments`` string as the JSON object Anthropic and Gemini carry."""
    raw = (call.get("function") or {}).get("arguments") or "{}"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        name = (call.get("function") or {}).get("name")
        raise UpstreamError(f"tool call {name!r} has arguments that are not a JSON object")
    return value


def tool_use_block(call: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": fn.get("name", ""),
        "input": arguments,
    }


# ---- usage ----------------------------------------------------------------------------------


def usage_from_anthropic(usage: dict[str, Any]) -> Usage:
    """Anthropic's ``input_tokens`` exclude cache reads and writes; ours include them."""
    read = count(usage.get("cache_read_input_tokens"))
    write = count(usage.get("cache_creation_input_tokens"))
    details = usage.get("output_tokens_details")
    thinking = count(details.get("thinking_tokens")) if isinstance(details, dict) else 0
    return Usage(
        prompt=count(usage.get("input_tokens")) + read + write,
        completion=count(usage.get("output_tokens")),
        cached=read,
        cache_write=write,
        reasoning=thinking,
    )


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": max(usage.prompt - usage.cached - usage.cache_write, 0),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": usage.completion,
    }
    if usage.reasoning:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning}
    return out


# ---- errors ---------------------------------------------------------------------------------

STATUS_TO_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
TYPE_TO_STATUS = {kind: status for status, kind in STATUS_TO_TYPE.items() if status != 503}
TYPE_TO_STATUS["api_error"] = 500


def error_body(status: int, message: str) -> dict[str, Any]:
    """The Messages API's error shape for an HTTP status."""
    kind = STATUS_TO_TYPE.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}
