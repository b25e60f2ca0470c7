"""Reference readers: what a stream in each vendor format says, read without flightdeck.wire.

Each reader is written from the vendor's event documentation alone and shares no code with the
translators it checks, so a translator bug cannot hide behind the same bug in its checker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    id: str
    name: str
    arguments: str


@dataclass
class Truth:
    """What a stream adds up to. ``usage``: (prompt, completion, cached, cache_write,
    reasoning) in the internal model's terms (prompt includes cached and cache-write tokens)."""

    text: str = ""
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    google_signatures: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    usage: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    finish: str | None = None
    error: str | None = None


def events(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of each event; ``[DONE]`` is kept as the string."""
    out = []
    text = raw.replace(b"\r\n", b"\n").decode("utf-8")
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        if data:
            joined = "\n".join(data)
            out.append((name, joined if joined == "[DONE]" else json.loads(joined)))
    return out


def _finish(finish: str | None, calls: list[Call]) -> str | None:
    if finish == "stop" and calls:
        return "tool_calls"
    return finish


def read_anthropic(raw: bytes) -> Truth:
    truth = Truth()
    blocks: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    stop = None
    for _, ev in events(raw):
        kind = ev["type"]
        if kind == "error":
            truth.error = ev["error"]["message"]
            break
        if kind == "message_start":
            usage.update(ev["message"]["usage"])
        elif kind == "content_block_start":
            blocks[ev["index"]] = {**ev["content_block"], "json": ""}
        elif kind == "content_block_delta":
            block, delta = blocks[ev["index"]], ev["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = block.get("signature", "") + delta["signature"]
            elif delta["type"] == "input_json_delta":
                block["json"] += delta["partial_json"]
        elif kind == "message_delta":
            usage.update({k: v for k, v in ev["usage"].items() if v is not None})
            stop = ev["delta"]["stop_reason"]
    for i in sorted(blocks):
        b = blocks[i]
        if b["type"] == "text":
            truth.text += b["text"]
        elif b["type"] == "thinking":
            truth.reasoning += b["thinking"]
            if b.get("signature"):
                truth.signatures.append(b["signature"])
        elif b["type"] == "redacted_thinking":
            truth.redacted.append(b["data"])
        elif b["type"] == "tool_use":
            args = b["json"] or json.dumps(b["input"], separators=(",", ":"))
            truth.calls.append(Call(b["id"], b["name"], args))
    read, write = (
        usage.get("cache_read_input_tokens") or 0,
        usage.get("cache_creation_input_tokens") or 0,
    )
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens", 0)
    truth.usage = (
        usage.get("input_tokens", 0) + read + write,
        usage.get("output_tokens", 0),
        read,
        write,
        thinking,
    )
    finish = {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
    }
    truth.finish = _finish(finish.get(stop or ""), truth.calls) if not truth.error else None
    return truth


def read_chat(raw: bytes) -> Truth:
    truth = Truth()
    blocks: dict[int, dict[str, str]] = {}
    tools: dict[int, dict[str, str]] = {}
    usage: dict[str, Any] = {}
    for _, ev in events(raw):
        if ev == "[DONE]":
            break
        if "error" in ev:
            truth.error = ev["error"]["message"]
            break
        usage = ev.get("usage") or usage
        for choice in ev.get("choices") or []:
            delta = choice.get("delta") or {}
            truth.text += delta.get("content") or ""
            truth.reasoning += delta.get("reasoning_content") or ""
            for frag in delta.get("thinking_blocks") or []:
                block = blocks.setdefault(frag["index"], {"type": frag["type"]})
                for key in ("signature", "data"):
                    block[key] = block.get(key, "") + frag.get(key, "")
            sig = ((delta.get("extra_content") or {}).get("google") or {}).get("thought_signature")
            if sig:
                truth.google_signatures.append(sig)
            for frag in delta.get("tool_calls") or []:
                call = tools.setdefault(frag["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] = frag.get("id") or call["id"]
                fn = frag.get("function") or {}
                call["name"] += fn.get("name") or ""
                call["arguments"] += fn.get("arguments") or ""
                sig = ((frag.get("extra_content") or {}).get("google") or {}).get(
                    "thought_signature"
                )
                if sig:
                    truth.google_signatures.append(sig)
            truth.finish = choice.get("finish_reason") or truth.finish
    for i in sorted(blocks):
        if blocks[i]["type"] == "redacted_thinking":
            truth.redacted.append(blocks[i]["data"])
        elif blocks[i]["signature"]:
            truth.signatures.append(blocks[i]["signature"])
    truth.calls = [Call(c["id"], c["name"], c["arguments"]) for _, c in sorted(tools.items())]
    p, c = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    pd, cd = usage.get("prompt_tokens_details") or {}, usage.get("completion_tokens_details") or {}
    truth.usage = (
        p,
        c,
        pd.get("cached_tokens", 0),
        pd.get("cache_write_tokens", 0),
        cd.get("reasoning_tokens", 0),
    )
    truth.finish = _finish(truth.finish, truth.calls) if not truth.error else None
    return truth


def read_gemini(raw: bytes) -> Truth:
    truth = Truth()
    meta: dict[str, Any] = {}
    reason = None
    for _, ev in events(raw):
        if "error" in ev:
            truth.error = ev["error"]["message"]
            break
        meta = ev.get("usageMetadata") or meta
        for cand in ev.get("candidates") or []:
            for part in (cand.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    fc = part["functionCall"]
                    args = json.dumps(
                        fc.get("args") or {}, separators=(",", ":"), ensure_ascii=False
                    )
                    truth.calls.append(Call(fc.get("id", ""), fc["name"], args))
                elif part.get("thought"):
                    truth.reasoning += part.get("text", "")
                else:
                    truth.text += part.get("text", "")
                if part.get("thoughtSignature"):
                    truth.google_signatures.append(part["thoughtSignature"])
            reason = cand.get("finishReason") or reason
    thoughts = meta.get("thoughtsTokenCount", 0)
    prompt = meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0)
    truth.usage = (
        prompt,
        meta.get("candidatesTokenCount", 0) + thoughts,
        meta.get("cachedContentTokenCount", 0),
        0,
        thoughts,
    )
    finish = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}
    truth.finish = _finish(finish.get(reason or ""), truth.calls) if not truth.error else None
    return truth


def read_responses(raw: bytes) -> Truth:
    truth = Truth()
    calls: dict[str, Call] = {}
    order: list[str] = []
    args_seen: set[str] = set()
    for _, ev in events(raw):
        kind = ev["type"]
        if kind == "error":
            truth.error = ev["message"]
            break
        if kind == "response.output_item.added" and ev["item"]["type"] == "function_call":
            item = ev["item"]
            calls[item["id"]] = Call(item["call_id"], item["name"], "")
            order.append(item["id"])
        elif kind == "response.output_text.delta":
            truth.text += ev["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            truth.reasoning += ev["delta"]
        elif kind == "response.function_call_arguments.delta":
            calls[ev["item_id"]].arguments += ev["delta"]
            args_seen.add(ev["item_id"])
        elif kind == "response.output_item.done":
            item = ev["item"]
            if item["type"] == "function_call" and item["id"] not in args_seen:
                calls[item["id"]].arguments = item["arguments"]
            elif item["type"] == "reasoning" and not item["summary"]:
                truth.redacted.append(item["encrypted_content"])
            elif item["type"] == "reasoning" and item.get("encrypted_content"):
                truth.signatures.append(item["encrypted_content"])
        elif kind in ("response.completed", "response.incomplete"):
            usage = ev["response"]["usage"]
            ind, outd = usage["input_tokens_details"], usage["output_tokens_details"]
            truth.usage = (
                usage["input_tokens"],
                usage["output_tokens"],
                ind.get("cached_tokens", 0),
                ind.get("cache_write_tokens", 0),
                outd.get("reasoning_tokens", 0),
            )
            reason = (ev["response"].get("incomplete_details") or {}).get("reason")
            truth.finish = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(
                reason or "", "tool_calls" if calls else "stop"
            )
    truth.calls = [calls[i] for i in order]
    return truth


READERS = {
    "anthropic": read_anthropic,
    "chat": read_chat,
    "gemini": read_gemini,
    "responses": read_responses,
}
