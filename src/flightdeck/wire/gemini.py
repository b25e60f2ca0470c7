"""Gemini ``generateContent`` (Gemini API and Vertex AI) <-> the internal chat-completions model.

Source: the Gemini API reference (``models.generateContent``, ``streamGenerateContent``,
``Content``/``Part``, ``GenerationConfig``, ``UsageMetadata``, "Thinking", "Thought
signatures", "Function calling") and the types of Google's ``google-genai`` SDK. Both Gemini
endpoints take the same JSON; only the URL and the credential differ (``providers.gemini``).

What has no place, and what happens to it:
- thinking text and Anthropic signatures sent back in a conversation: Gemini takes its own
  thought signatures only; dropped and counted (``Notes.dropped_thinking``).
- ``cache_control``: Gemini caches prompts implicitly; the hint is ignored (documented).
- cache-write token counts: Gemini reports none.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from flightdeck.core.errors import InvalidRequest, UpstreamError
from flightdeck.wire.chat import Notes, Usage, count, new_id
from flightdeck.wire.content import (
    harmless,
    is_web_url,
    refuse,
    split_data_url,
    text_of,
)

TARGET = "a Gemini model"

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
}
FINISH_OUT = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
}

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
        "thinking",
        "reasoning_effort",
        "response_format",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "cache_control",
    }
)
DEFAULTED_KEYS = frozenset({"n", "logprobs", "stream_options", "parallel_tool_calls", "store"})


def chat_to_gemini_request(body: dict[str, Any], *, notes: Notes | None = None) -> dict[str, Any]:
    """A chat-completions request as a ``generateContent`` body (the model is in the URL)."""
    for key in body:
        if key not in CHAT_KEYS and not (key in DEFAULTED_KEYS and harmless(body, key)):
            refuse(key, TARGET)
    notes = notes or Notes()
    system, contents = _contents(body.get("messages") or [], notes)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    if body.get("tools"):
        declarations = [_declaration(t, i) for i, t in enumerate(body["tools"])]
        out["tools"] = [{"functionDeclarations": declarations}]
    if body.get("tool_choice") is not None:
        out["toolConfig"] = {"functionCallingConfig": _calling_config(body["tool_choice"])}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    names = {
        "temperature": "temperature",
        "top_p": "topP",
        "top_k": "topK",
        "seed": "seed",
        "presence_penalty": "presencePenalty",
        "frequency_penalty": "frequencyPenalty",
    }
    for key, name in names.items():
        if body.get(key) is not None:
            config[name] = body[key]
    most = body.get("max_completion_tokens") or body.get("max_tokens")
    if most is not None:
        config["maxOutputTokens"] = most
    stop = body.get("stop")
    if stop is not None:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = (fmt.get("json_schema") or {}).get("schema")
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    elif fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        refuse("response_format", TARGET)
    thinking = _thinking_config(body)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind == "enabled":
            out = {"thinkingBudget": thinking.get("budget_tokens"), "includeThoughts": True}
        elif kind == "adaptive":
            out = {"thinkingBudget": -1, "includeThoughts": True}
        elif kind == "disabled":
            out = {"thinkingBudget": 0}
        else:
            refuse("thinking.type", TARGET)
    elif thinking is not None:
        refuse("thinking", TARGET)
    effort = body.get("reasoning_effort")
    if effort == "none":
        out.setdefault("thinkingBudget", 0)
    elif effort in ("minimal", "low", "medium", "high"):
        out["thinkingLevel"] = effort
    elif effort is not None:
        refuse("reasoning_effort", TARGET, f"{effort!r} has no Gemini thinking level")
    return out


def _declaration(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        refuse(f"tools[{i}].type", TARGET, "only function tools fit")
    fn = tool.get("function") or {}
    if fn.get("strict"):
        refuse(f"tools[{i}].function.strict", TARGET)
    out: dict[str, Any] = {"name": fn.get("name")}
    if fn.get("description") is not None:
        out["description"] = fn["description"]
    if fn.get("parameters") is not None:
        out["parametersJsonSchema"] = fn["parameters"]
    return out


def _calling_config(choice: Any) -> dict[str, Any]:
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if isinstance(choice, str) and choice in modes:
        return {"mode": modes[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"mode": "ANY", "allowedFunctionNames": [(choice.get("function") or {}).get("name")]}
    refuse("tool_choice", TARGET)


def _contents(
    messages: list[Any], notes: Notes
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        role = m.get("role") if isinstance(m, dict) else None
        if role in ("system", "developer"):
            if contents:
                refuse(where, TARGET, "a system message after the conversation started")
            system.append({"text": text_of(m.get("content"), f"{where}.content", TARGET)})
        elif role == "user":
            _add(contents, "user", _user_parts(m.get("content"), f"{where}.content"))
        elif role == "assistant":
            _add(contents, "model", _model_parts(m, where, names, notes))
        elif role == "tool":
            _add(contents, "user", [_function_response(m, where, names)])
        else:
            refuse(f"{where}.role", TARGET, f"role {role!r}")
    return system, contents


def _add(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    """Consecutive turns of one role share a Content (parallel function responses must)."""
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"] += parts
    else:
        contents.append({"role": role, "parts": parts})


def _user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"'{where}' must be a string or an array of parts", param=where)
    parts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        here = f"{where}[{j}]"
        if kind == "text":
            parts.append({"text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url") or {}
            if image.get("detail") not in (None, "auto"):
                refuse(f"{here}.image_url.detail", TARGET)
            parts.append(_media(str(image.get("url", "")), f"{here}.image_url.url"))
        elif kind == "file":
            parts.append(_media(str((part.get("file") or {}).get("file_data", "")), f"{here}.file"))
        else:
            refuse(f"{here}.type", TARGET, f"a {kind!r} part")
    return parts


def _media(url: str, where: str) -> dict[str, Any]:
    if url.startswith("gs://") or is_web_url(url):
        mime, _ = mimetypes.guess_type(url)
        if mime is None:
            refuse(where, TARGET, "the media type of the URL is unknown; send a data: URL")
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    mime, data = split_data_url(url, where)
    return {"inlineData": {"mimeType": mime, "data": data}}


def _model_parts(
    m: dict[str, Any], where: str, names: dict[str, str], notes: Notes
) -> list[dict[str, Any]]:
    notes.dropped_thinking += len(m.get("thinking_blocks") or [])
    if m.get("reasoning_content") and not m.get("thinking_blocks"):
        notes.dropped_thinking += 1
    parts: list[dict[str, Any]] = []
    text = text_of(m.get("content"), f"{where}.content", TARGET)
    if text:
        parts.append({"text": text})
    signature = thought_signature(m)
    if signature and parts:
        parts[0]["thoughtSignature"] = signature
    elif signature:
        parts.append({"text": "", "thoughtSignature": signature})
    for k, call in enumerate(m.get("tool_calls") or []):
        fn = call.get("function") or {}
        names[call.get("id", "")] = fn.get("name", "")
        here = f"{where}.tool_calls[{k}].function.arguments"
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            raise InvalidRequest(f"'{here}' must be a JSON object", param=here)
        part: dict[str, Any] = {"functionCall": {"name": fn.get("name", ""), "args": args}}
        if call.get("id"):
            part["functionCall"]["id"] = call["id"]
        if thought_signature(call):
            part["thoughtSignature"] = thought_signature(call)
        parts.append(part)
    return parts


def thought_signature(item: dict[str, Any]) -> str | None:
    """Gemini's thought signature kept on a chat message or tool call (``extra_content``)."""
    extra = item.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    value = google.get("thought_signature") if isinstance(google, dict) else None
    return value if isinstance(value, str) and value else None


def _function_response(m: dict[str, Any], where: str, names: dict[str, str]) -> dict[str, Any]:
    call_id = str(m.get("tool_call_id", ""))
    if call_id not in names:
        raise InvalidRequest(
            f"'{where}.tool_call_id' matches no earlier tool call", param=f"{where}.tool_call_id"
        )
    text = text_of(m.get("content"), f"{where}.content", TARGET)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        value = {"error" if m.get("is_error") else "output": text}
    response = {"name": names[call_id], "response": value, "id": call_id}
    return {"functionResponse": response}


# ---- replies --------------------------------------------------------------------------------


def gemini_to_chat_completion(reply: dict[str, Any]) -> dict[str, Any]:
    """A ``generateContent`` reply as a chat completion (candidate 0)."""
    candidates = reply.get("candidates") or []
    candidate = candidates[0] if candidates else {}
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    signature = None
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            calls.append(tool_call(part, len(calls)))
            continue
        kind = part_kind(part)
        if kind == "thought":
            reasoning.append(part.get("text", ""))
        elif kind == "text":
            text.append(part.get("text", ""))
        if part.get("thoughtSignature"):
            signature = part["thoughtSignature"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    if signature:
        message["extra_content"] = {"google": {"thought_signature": signature}}
    return {
        "id": reply.get("responseId") or new_id("chatcmpl"),
        "object": "chat.completion",
        "created": 0,
        "model": reply.get("modelVersion", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply, calls)}],
        "usage": usage_from_gemini(reply.get("usageMetadata") or {}).to_chat(),
    }


def part_kind(part: dict[str, Any]) -> str:
    """``thought``, ``text`` or ``call`` for the parts chat can carry; UpstreamError else."""
    if "functionCall" in part:
        return "call"
    if part.get("thought"):
        return "thought"
    if "text" in part or set(part) <= {"thoughtSignature"}:
        return "text"
    kind = next(iter(part), "empty")
    raise UpstreamError(f"the upstream answered with a {kind!r} part, which has no place in chat")


def tool_call(part: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    """A ``functionCall`` part as a chat tool call (``index`` set for stream deltas)."""
    fc = part["functionCall"]
    arguments = orjson.dumps(fc.get("args") or {}).decode()
    call: dict[str, Any] = {
        "id": fc.get("id") or new_id("call"),
        "type": "function",
        "function": {"name": fc.get("name", ""), "arguments": arguments},
    }
    if part.get("thoughtSignature"):
        call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return call


def finish_reason(reply: dict[str, Any], calls: list[Any] | bool) -> str:
    candidates = reply.get("candidates") or []
    reason = candidates[0].get("finishReason") if candidates else None
    if not candidates and (reply.get("promptFeedback") or {}).get("blockReason"):
        return "content_filter"
    finish = FINISH.get(str(reason), "stop")
    return "tool_calls" if calls and finish == "stop" else finish


# ---- usage and errors -----------------------------------------------------------------------


def usage_from_gemini(meta: dict[str, Any]) -> Usage:
    """``promptTokenCount`` includes cached tokens; thoughts are counted apart from candidates
    (ours: inside completion tokens); tool-use prompt tokens are prompt tokens."""
    thoughts = count(meta.get("thoughtsTokenCount"))
    return Usage(
        prompt=count(meta.get("promptTokenCount")) + count(meta.get("toolUsePromptTokenCount")),
        completion=count(meta.get("candidatesTokenCount")) + thoughts,
        cached=count(meta.get("cachedContentTokenCount")),
        reasoning=thoughts,
    )


def usage_to_gemini(usage: Usage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.completion - usage.reasoning,
        "totalTokenCount": usage.prompt + usage.completion,
    }
    if usage.cached:
        meta["cachedContentTokenCount"] = usage.cached
    if usage.reasoning:
        meta["thoughtsTokenCount"] = usage.reasoning
    return meta


STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Google's error shape (``google.rpc.Status`` as JSON)."""
    name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    return {"error": {"code": status, "message": message, "status": name}}


def stream_error(error: Any) -> UpstreamError:
    """The UpstreamError for an ``{"error": ...}`` event in a Gemini stream."""
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    status = code if isinstance(code, int) else None
    message = str(error.get("message") or "the upstream stream failed")
    return UpstreamError(
        f"upstream stream error ({error.get('status')}): {message}", upstream_status=status
    )
