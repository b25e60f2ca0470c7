"""Responses API items (``input`` and ``output`` arrays) as chat messages.

One chat assistant message gathers consecutive reasoning items, the assistant's message and its
function calls (chat puts them in one turn); ``function_call_output`` items become ``tool``
messages.
"""

from __future__ import annotations

from typing import Any

from flightdeck.core.errors import InvalidRequest
from flightdeck.wire.content import check_only, refuse

CHAT = "the chat model"


def items_to_messages(items: list[Any], *, output: bool = False) -> list[dict[str, Any]]:
    """Chat messages for Responses items (``output``: the items are a reply's output)."""
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    prefix = "output" if output else "input"
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where}: must be an object", param=where)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "reasoning":
            block = _thinking_block(item, where)
            if messages and messages[-1]["role"] == "assistant" and not pending:
                _add_thinking(messages[-1], [block])
            else:
                pending.append(block)
        elif kind == "message" and item.get("role") == "assistant":
            turn = _assistant(messages, pending)
            _assistant_content(turn, item, where)
        elif kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            turn = _assistant(messages, pending)
            check_only(
                item,
                frozenset({"type", "id", "call_id", "name", "arguments", "status"}),
                CHAT,
                f"{where}.",
            )
            call = {
                "id": item.get("call_id", ""),
                "type": "function",
                "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
            }
            turn.setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            check_only(
                item, frozenset({"type", "id", "call_id", "output", "status"}), CHAT, f"{where}."
            )
            content = _tool_output(item.get("output"), f"{where}.output")
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id", ""), "content": content}
            )
        else:
            refuse(f"{where}.type", CHAT, f"a {kind!r} item")
    if pending:
        _assistant(messages, pending)
    return messages


def _assistant(messages: list[dict[str, Any]], pending: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant turn to add to: the last message if it is one, else a new one; reasoning
    items waiting for it go in first."""
    if not messages or messages[-1]["role"] != "assistant":
        messages.append({"role": "assistant", "content": None})
    turn = messages[-1]
    if pending:
        _add_thinking(turn, pending)
        pending.clear()
    return turn


def _add_thinking(turn: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    turn.setdefault("thinking_blocks", []).extend(blocks)
    text = "".join(b.get("thinking", "") for b in turn["thinking_blocks"])
    if text:
        turn["reasoning_content"] = text


def _thinking_block(item: dict[str, Any], where: str) -> dict[str, Any]:
    check_only(
        item,
        frozenset({"type", "id", "summary", "content", "encrypted_content", "status"}),
        CHAT,
        f"{where}.",
    )
    summary = item.get("summary") or []
    content = item.get("content") or []
    if not summary and not content:
        return {"type": "redacted_thinking", "data": item.get("encrypted_content") or ""}
    text = "".join(str(p.get("text", "")) for p in [*summary, *content] if isinstance(p, dict))
    return {"type": "thinking", "thinking": text, "signature": item.get("encrypted_content") or ""}


def _assistant_content(turn: dict[str, Any], item: dict[str, Any], where: str) -> None:
    check_only(
        item, frozenset({"type", "id", "role", "content", "status", "phase"}), CHAT, f"{where}."
    )
    content = item.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    else:
        for j, part in enumerate(content or []):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("output_text", "input_text"):
                texts.append(str(part.get("text", "")))
            elif kind == "refusal":
                turn["refusal"] = turn.get("refusal", "") + str(part.get("refusal", ""))
            else:
                refuse(f"{where}.content[{j}].type", CHAT, f"a {kind!r} part")
    if texts:
        turn["content"] = (turn.get("content") or "") + "".join(texts)


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    check_only(item, frozenset({"type", "id", "role", "content", "status"}), CHAT, f"{where}.")
    role = item.get("role")
    if role not in ("user", "system", "developer"):
        refuse(f"{where}.role", CHAT, f"role {role!r}")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or an array", param=where)
    parts = [
        _part(p, f"{where}.content[{j}]", text_only=role != "user") for j, p in enumerate(content)
    ]
    return {"role": role, "content": parts}


def _part(part: Any, where: str, *, text_only: bool) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "input_image" and not text_only:
        if part.get("file_id") or not part.get("image_url"):
            refuse(f"{where}.file_id", CHAT, "send image_url (a URL or data: URL)")
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") not in (None, "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and not text_only:
        if part.get("file_id") or part.get("file_url") or not part.get("file_data"):
            refuse(f"{where}.file_id", CHAT, "send file_data (a data: URL)")
        file = {"file_data": part["file_data"]}
        if part.get("filename"):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    refuse(f"{where}.type", CHAT, f"a {kind!r} part")


def _tool_output(output: Any, where: str) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return [_part(p, f"{where}[{j}]", text_only=True) for j, p in enumerate(output)]
    raise InvalidRequest(f"{where}: must be a string or an array of parts", param=where)
