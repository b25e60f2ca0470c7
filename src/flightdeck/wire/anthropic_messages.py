"""Conversation turns between chat completions and the Anthropic Messages API.

Chat keeps tool results as ``tool`` messages and the system prompt as ``system`` messages;
Anthropic keeps them as ``tool_result`` blocks in a user turn and a top-level ``system``.
Thinking blocks keep their signatures both ways; thinking without an Anthropic signature (from
another vendor) cannot be sent to Anthropic and is dropped and counted in ``Notes``.
"""

from __future__ import annotations

from typing import Any

import orjson

from flightdeck.core.errors import InvalidRequest
from flightdeck.wire.chat import Notes
from flightdeck.wire.content import (
    check_only,
    data_url,
    is_web_url,
    refuse,
    split_data_url,
)

TARGET = "an Anthropic model"
CHAT = "the chat model"
USER_KEYS = frozenset({"role", "content", "cache_control"})
SYSTEM_KEYS = frozenset({"role", "content"})
TOOL_KEYS = frozenset({"role", "content", "tool_call_id", "is_error", "cache_control"})
ASSISTANT_KEYS = frozenset(
    {"role", "content", "tool_calls", "reasoning_content", "thinking_blocks", "refusal"}
    | {"extra_content", "cache_control"}
)


def chat_to_anthropic_messages(
    messages: list[Any], notes: Notes
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages) of a chat ``messages`` array."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidRequest(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = m.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            check_only(m, SYSTEM_KEYS, TARGET, f"{where}.")
            if out:
                refuse(where, TARGET, "a system message after the conversation started")
            system += _blocks(m.get("content"), f"{where}.content", text_only=True)
        elif role == "user":
            check_only(m, USER_KEYS, TARGET, f"{where}.")
            _append(out, "user", _user_content(m, where))
        elif role == "assistant":
            check_only(m, ASSISTANT_KEYS, TARGET, f"{where}.")
            _append(out, "assistant", _assistant_blocks(m, where, notes))
        elif role == "tool":
            check_only(m, TOOL_KEYS, TARGET, f"{where}.")
            _append(out, "user", [_tool_result(m, where)])
        else:
            refuse(f"{where}.role", TARGET, f"role {role!r}")
    return system, out


def _append(out: list[dict[str, Any]], role: str, content: str | list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role (tool results and the
    user's next words share one Anthropic user turn)."""
    if out and out[-1]["role"] == role:
        prev = out[-1]["content"]
        if isinstance(prev, str):
            prev = [{"type": "text", "text": prev}]
        more = [{"type": "text", "text": content}] if isinstance(content, str) else content
        out[-1]["content"] = prev + more
    else:
        out.append({"role": role, "content": content})


def _user_content(m: dict[str, Any], where: str) -> str | list[dict[str, Any]]:
    content = m.get("content")
    if isinstance(content, str) and m.get("cache_control") is None:
        return content
    blocks = _blocks(content, f"{where}.content")
    if m.get("cache_control") is not None and blocks:
        blocks[-1]["cache_control"] = m["cache_control"]
    return blocks


def _blocks(content: Any, where: str, *, text_only: bool = False) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"'{where}' must be a string or an array of parts", param=where)
    out = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        here = f"{where}[{j}]"
        if kind == "text":
            check_only(part, frozenset({"type", "text", "cache_control"}), TARGET, f"{here}.")
            block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
        elif kind == "image_url" and not text_only:
            block = _image_block(part, here)
        elif kind == "file" and not text_only:
            block = _document_block(part, here)
        else:
            refuse(f"{here}.type", TARGET, f"a {kind!r} part")
        if part.get("cache_control") is not None:
            block["cache_control"] = part["cache_control"]
        out.append(block)
    return out


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    check_only(part, frozenset({"type", "image_url", "cache_control"}), TARGET, f"{where}.")
    image = part.get("image_url") or {}
    if image.get("detail") not in (None, "auto"):
        refuse(f"{where}.image_url.detail", TARGET)
    url = str(image.get("url", ""))
    if is_web_url(url):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = split_data_url(url, f"{where}.image_url.url")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    check_only(part, frozenset({"type", "file", "cache_control"}), TARGET, f"{where}.")
    file = part.get("file") or {}
    check_only(file, frozenset({"file_data", "filename"}), TARGET, f"{where}.file.")
    media_type, data = split_data_url(str(file.get("file_data", "")), f"{where}.file.file_data")
    if media_type != "application/pdf":
        refuse(f"{where}.file", TARGET, f"{media_type} documents (PDF only)")
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }
    if file.get("filename") is not None:
        block["title"] = file["filename"]
    return block


def _assistant_blocks(m: dict[str, Any], where: str, notes: Notes) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    blocks = m.get("thinking_blocks") or []
    for block in blocks:
        if block.get("type") == "redacted_thinking":
            out.append({"type": "redacted_thinking", "data": block.get("data", "")})
        elif block.get("signature"):
            out.append(
                {
                    "type": "thinking",
                    "thinking": block.get("thinking", ""),
                    "signature": block["signature"],
                }
            )
        else:
            notes.dropped_thinking += 1  # no Anthropic signature: Anthropic would refuse it
    if m.get("reasoning_content") and not blocks:
        notes.dropped_thinking += 1
    if m.get("extra_content"):
        notes.dropped_thinking += 1  # a Gemini thought signature
    content = m.get("content")
    if isinstance(content, str):
        if content:
            out.append({"type": "text", "text": content})
    elif content is not None:
        out += [b for b in _blocks(content, f"{where}.content", text_only=True) if b["text"]]
    for k, call in enumerate(m.get("tool_calls") or []):
        out.append(_tool_use(call, f"{where}.tool_calls[{k}]", notes))
    if m.get("cache_control") is not None and out:
        out[-1]["cache_control"] = m["cache_control"]
    return out


def _tool_use(call: dict[str, Any], where: str, notes: Notes) -> dict[str, Any]:
    check_only(
        call,
        frozenset({"id", "type", "function", "cache_control", "extra_content"}),
        TARGET,
        f"{where}.",
    )
    fn = call.get("function") or {}
    try:
        arguments = orjson.loads(fn.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise InvalidRequest(
            f"'{where}.function.arguments' must be a JSON object",
            param=f"{where}.function.arguments",
        )
    block: dict[str, Any] = {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": fn.get("name", ""),
        "input": arguments,
    }
    if call.get("cache_control") is not None:
        block["cache_control"] = call["cache_control"]
    if call.get("extra_content"):
        notes.dropped_thinking += 1
    return block


def _tool_result(m: dict[str, Any], where: str) -> dict[str, Any]:
    content = m.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.get("tool_call_id", "")}
    if isinstance(content, str):
        block["content"] = content
    else:
        block["content"] = _blocks(content, f"{where}.content", text_only=True)
    if m.get("is_error"):
        block["is_error"] = True
    if m.get("cache_control") is not None:
        block["cache_control"] = m["cache_control"]
    return block


# ---- Anthropic -> chat ----------------------------------------------------------------------


def anthropic_to_chat_messages(system: Any, messages: list[Any]) -> list[dict[str, Any]]:
    """A Messages API ``system`` and ``messages`` as a chat ``messages`` array."""
    out: list[dict[str, Any]] = []
    if isinstance(system, str):
        out.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        out.append({"role": "system", "content": _parts(system, "system", text_only=True)})
    elif system is not None and not isinstance(system, list):
        raise InvalidRequest("system: must be a string or an array of text blocks", param="system")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: must be 'user' or 'assistant'", param=where)
        check_only(m, frozenset({"role", "content"}), CHAT, f"{where}.")
        content = m.get("content")
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
        elif not isinstance(content, list):
            raise InvalidRequest(f"{where}.content: must be a string or an array", param=where)
        elif m["role"] == "user":
            out += _user_turn(content, f"{where}.content")
        else:
            out.append(_assistant_turn(content, f"{where}.content"))
    return out


def _user_turn(content: list[Any], where: str) -> list[dict[str, Any]]:
    turn: list[dict[str, Any]] = []
    others = []
    for j, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "tool_result":
            turn.append(_tool_message(block, f"{where}[{j}]"))
        else:
            others.append((j, block))
    if others:
        parts = [_part(block, f"{where}[{j}]", text_only=False) for j, block in others]
        turn.append({"role": "user", "content": parts})
    return turn


def _tool_message(block: dict[str, Any], where: str) -> dict[str, Any]:
    allowed = frozenset({"type", "tool_use_id", "content", "is_error", "cache_control"})
    check_only(block, allowed, CHAT, f"{where}.")
    content = block.get("content", "")
    message: dict[str, Any] = {"role": "tool", "tool_call_id": block.get("tool_use_id", "")}
    if isinstance(content, str):
        message["content"] = content
    else:
        message["content"] = _parts(content, f"{where}.content", text_only=True)
    if block.get("is_error"):
        message["is_error"] = True
    if block.get("cache_control") is not None:
        message["cache_control"] = block["cache_control"]
    return message


def _parts(blocks: list[Any], where: str, *, text_only: bool) -> list[dict[str, Any]]:
    return [_part(block, f"{where}[{j}]", text_only=text_only) for j, block in enumerate(blocks)]


def _part(block: Any, where: str, *, text_only: bool) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        check_only(block, frozenset({"type", "text", "cache_control"}), CHAT, f"{where}.")
        part: dict[str, Any] = {"type": "text", "text": block.get("text", "")}
    elif kind == "image" and not text_only:
        part = {"type": "image_url", "image_url": {"url": _source_url(block, where)}}
    elif kind == "document" and not text_only:
        check_only(
            block, frozenset({"type", "source", "title", "cache_control"}), CHAT, f"{where}."
        )
        file: dict[str, Any] = {"file_data": _source_url(block, where, pdf_only=True)}
        if block.get("title") is not None:
            file["filename"] = block["title"]
        part = {"type": "file", "file": file}
    else:
        refuse(f"{where}.type", CHAT, f"a {kind!r} block")
    if block.get("cache_control") is not None:
        part["cache_control"] = block["cache_control"]
    return part


def _source_url(block: dict[str, Any], where: str, *, pdf_only: bool = False) -> str:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        media_type = str(source.get("media_type", ""))
        if pdf_only and media_type != "application/pdf":
            refuse(f"{where}.source.media_type", CHAT)
        return data_url(media_type, str(source.get("data", "")))
    if kind == "url" and not pdf_only:
        return str(source.get("url", ""))
    refuse(f"{where}.source.type", CHAT, f"a {kind!r} source")


def _assistant_turn(content: list[Any], where: str) -> dict[str, Any]:
    texts: list[dict[str, Any]] = []
    reasoning: list[str] = []
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_part(block, f"{where}[{j}]", text_only=True))
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
            calls.append(_tool_call(block, f"{where}[{j}]"))
        else:
            refuse(f"{where}[{j}].type", CHAT, f"a {kind!r} block")
    message: dict[str, Any] = {"role": "assistant"}
    if len(texts) == 1 and "cache_control" not in texts[0]:
        message["content"] = texts[0]["text"]
    else:
        message["content"] = texts or None
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if blocks:
        message["thinking_blocks"] = blocks
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    check_only(
        block, frozenset({"type", "id", "name", "input", "cache_control"}), CHAT, f"{where}."
    )
    arguments = orjson.dumps(block.get("input") or {}).decode()
    call: dict[str, Any] = {
        "id": block.get("id", ""),
        "type": "function",
        "function": {"name": block.get("name", ""), "arguments": arguments},
    }
    if block.get("cache_control") is not None:
        call["cache_control"] = block["cache_control"]
    return call
