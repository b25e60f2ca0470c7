"""OpenAI Responses API <-> the internal chat-completions model: requests, replies, usage.

Source: OpenAI's API reference ("Responses", "Streaming events", "Conversation state",
"Reasoning") and the types of the official ``openai`` SDK. Streams are in
``wire.responses_stream``; stored responses and ``previous_response_id`` belong to the route,
which passes the earlier turns in as chat messages.

Items map to chat as: ``message`` <-> a message; ``function_call`` <-> an assistant tool call;
``function_call_output`` <-> a ``tool`` message; ``reasoning`` <-> a thinking block (its summary
text is the thinking, ``encrypted_content`` the Anthropic signature; a reasoning item with no
summary part is redacted thinking, ``encrypted_content`` its data).
"""

from __future__ import annotations

import time
from typing import Any

from flightdeck.core.errors import InvalidRequest
from flightdeck.wire.chat import Notes, Usage, count, new_id
from flightdeck.wire.content import check_only, refuse
from flightdeck.wire.responses_items import items_to_messages

CHAT = "the chat model"
REQUEST_KEYS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "stream",
        "stream_options",
        "store",
        "previous_response_id",
        "include",
        "metadata",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "truncation",
        "service_tier",
        "background",
    }
)


def responses_to_chat_request(
    body: dict[str, Any], previous: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Responses API request as a chat-completions request.

    ``previous``: the chat messages of the conversation so far (``previous_response_id``,
    resolved by the route, which stores conversations without their ``instructions``: they
    are not carried over, OpenAI's rule).
    """
    check_only(body, REQUEST_KEYS, CHAT)
    _check_defaults(body)
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    messages += previous or []
    value = body.get("input")
    if isinstance(value, str):
        messages.append({"role": "user", "content": value})
    elif isinstance(value, list):
        messages += items_to_messages(value)
    elif value is not None:
        raise InvalidRequest("input: must be a string or an array of items", param="input")
    if not messages:
        raise InvalidRequest("input: must not be empty", param="input")
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if body.get("max_output_tokens") is not None:
        out["max_completion_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("prompt_cache_key") is not None:
        out["prompt_cache_key"] = body["prompt_cache_key"]
    if body.get("stream"):
        out["stream"] = True
    if body.get("tools"):
        out["tools"] = [_tool(t, i) for i, t in enumerate(body["tools"])]
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        out["reasoning_effort"] = effort
    _text_config(body.get("text"), out)
    return out


def _check_defaults(body: dict[str, Any]) -> None:
    if body.get("background"):
        refuse("background", CHAT, "background responses are not supported")
    if body.get("truncation") not in (None, "disabled"):
        refuse("truncation", CHAT)
    if body.get("service_tier") not in (None, "auto", "default"):
        refuse("service_tier", CHAT)
    for item in body.get("include") or []:
        if item != "reasoning.encrypted_content":
            refuse("include", CHAT, f"{item!r}")
    reasoning = body.get("reasoning") or {}
    check_only(reasoning, frozenset({"effort", "summary", "generate_summary"}), CHAT, "reasoning.")


def _tool(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        refuse(f"tools[{i}].type", CHAT, f"a {kind!r} tool (function tools only)")
    check_only(
        tool,
        frozenset({"type", "name", "description", "parameters", "strict"}),
        CHAT,
        f"tools[{i}].",
    )
    fn: dict[str, Any] = {"name": tool.get("name")}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            fn[key] = tool[key]
    return {"type": "function", "function": fn}


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    refuse("tool_choice", CHAT)


def _text_config(text: Any, out: dict[str, Any]) -> None:
    if not isinstance(text, dict):
        return
    check_only(text, frozenset({"format", "verbosity"}), CHAT, "text.")
    if text.get("verbosity") is not None:
        out["verbosity"] = text["verbosity"]
    fmt = text.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") == "text":
        return
    if fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        refuse("text.format.type", CHAT)


# ---- replies --------------------------------------------------------------------------------


def completion_to_response(
    completion: dict[str, Any],
    request: dict[str, Any],
    *,
    response_id: str | None = None,
    notes: Notes | None = None,
) -> dict[str, Any]:
    """A chat completion as a Responses API ``response`` object (status from the finish)."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output = message_items(message, notes or Notes())
    status, incomplete = status_of(choice.get("finish_reason"))
    response = response_shell(request, response_id or new_id("resp"), status)
    response["output"] = output
    response["incomplete_details"] = incomplete
    response["usage"] = usage_to_responses(Usage.from_chat(completion.get("usage")))
    return response


def status_of(finish_reason: str | None) -> tuple[str, dict[str, str] | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_shell(request: dict[str, Any], response_id: str, status: str) -> dict[str, Any]:
    """The ``response`` object around the output: echoes the request's settings."""
    tools = request.get("tools") or []
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": request.get("model"),
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "store": request.get("store", True),
        "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": tools,
        "top_p": request.get("top_p"),
        "truncation": request.get("truncation", "disabled"),
        "usage": None,
        "metadata": request.get("metadata") or {},
    }


def message_items(message: dict[str, Any], notes: Notes) -> list[dict[str, Any]]:
    """A chat assistant message as output items: reasoning, then the message, then calls."""
    items = [reasoning_item(block) for block in message.get("thinking_blocks") or []]
    if message.get("reasoning_content") and not message.get("thinking_blocks"):
        items.append(reasoning_item({"type": "thinking", "thinking": message["reasoning_content"]}))
    if message.get("extra_content"):
        notes.dropped_thinking += 1  # a Gemini thought signature: Responses has no place for it
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "output_text", "text": message["content"], "annotations": []})
    if message.get("refusal"):
        content.append({"type": "refusal", "refusal": message["refusal"]})
    if content:
        items.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": content,
            }
        )
    for call in message.get("tool_calls") or []:
        if call.get("extra_content"):
            notes.dropped_thinking += 1
        items.append(function_call_item(call))
    return items


def reasoning_item(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") == "redacted_thinking":
        return {
            "id": new_id("rs"),
            "type": "reasoning",
            "summary": [],
            "encrypted_content": block.get("data"),
        }
    return {
        "id": new_id("rs"),
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": block.get("thinking", "")}],
        "encrypted_content": block.get("signature") or None,
    }


def function_call_item(call: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": new_id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call.get("id", ""),
        "name": fn.get("name", ""),
        "arguments": fn.get("arguments", ""),
    }


def response_to_chat_completion(response: dict[str, Any]) -> dict[str, Any]:
    """A Responses API ``response`` object as a chat completion."""
    messages = items_to_messages(
        [
            item
            for item in response.get("output") or []
            if item.get("type") != "message" or item.get("content")
        ],
        output=True,
    )
    message = messages[-1] if messages else {"role": "assistant", "content": None}
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    reason = (response.get("incomplete_details") or {}).get("reason")
    if response.get("status") == "incomplete":
        finish = "content_filter" if reason == "content_filter" else "length"
    return {
        "id": response.get("id", ""),
        "object": "chat.completion",
        "created": response.get("created_at", 0),
        "model": response.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage_from_responses(response.get("usage") or {}).to_chat(),
    }


# ---- usage and errors -----------------------------------------------------------------------


def usage_from_responses(usage: dict[str, Any]) -> Usage:
    inp = usage.get("input_tokens_details") or {}
    out = usage.get("output_tokens_details") or {}
    return Usage(
        prompt=count(usage.get("input_tokens")),
        completion=count(usage.get("output_tokens")),
        cached=count(inp.get("cached_tokens")),
        cache_write=count(inp.get("cache_write_tokens")),
        reasoning=count(out.get("reasoning_tokens")),
    )


def usage_to_responses(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached,
            "cache_write_tokens": usage.cache_write,
        },
        "output_tokens": usage.completion,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.prompt + usage.completion,
    }
