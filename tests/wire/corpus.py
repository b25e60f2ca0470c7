"""The stream corpus: hand-written vendor streams (``corpus/<format>/*.sse``) and variants.

The hand-written streams follow each vendor's published event documentation (Anthropic
"Streaming Messages", OpenAI chat-completion chunks and Responses "Streaming events", Gemini
``streamGenerateContent?alt=sse``). Each becomes four streams that mean the same thing:

- ``base``: the file as written.
- ``fine``: every text, thinking and argument delta re-split into 1-3 character pieces (so
  emoji ZWJ sequences, combining accents and JSON escapes are cut in the middle); Gemini text
  parts become one event per piece.
- ``empty``: an empty delta after every delta (and ``ping`` events, for Anthropic).
- ``framing``: the other line ending (CRLF <-> LF) and ``: keep-alive`` comments between events.

Replays additionally cut the bytes at random places (mid-codepoint too) before decoding.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.wire.readers import events

CORPUS = Path(__file__).parent / "corpus"
FORMATS = ("anthropic", "chat", "gemini", "responses")
VARIANTS = ("base", "fine", "empty", "framing")


def pieces(text: str, rng: random.Random) -> list[str]:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 3)
        out.append(text[i : i + n])
        i += n
    return out or [text]


def dump(name: str | None, data: Any) -> str:
    body = data if data == "[DONE]" else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {name}\n" if name else "") + f"data: {body}\n\n"


# ---- per-format splitting -------------------------------------------------------------------

ANTHROPIC_TEXT = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


def anthropic_split(ev: Any, rng: random.Random, empty: bool) -> list[Any]:
    if ev["type"] != "content_block_delta" or ev["delta"]["type"] not in ANTHROPIC_TEXT:
        return [ev]
    key = ANTHROPIC_TEXT[ev["delta"]["type"]]
    if empty:
        blank = copy.deepcopy(ev)
        blank["delta"][key] = ""
        return [ev, blank, {"type": "ping"}]
    out = []
    for piece in pieces(ev["delta"][key], rng):
        new = copy.deepcopy(ev)
        new["delta"][key] = piece
        out.append(new)
    return out


def chat_split(ev: Any, rng: random.Random, empty: bool) -> list[Any]:
    if ev == "[DONE]" or "error" in ev or not ev.get("choices"):
        return [ev]
    delta = ev["choices"][0]["delta"]
    keys = set(delta) - {"role"}
    calls = delta.get("tool_calls") or []
    blocks = delta.get("thinking_blocks") or []
    if empty:
        blank = copy.deepcopy(ev)
        blank["choices"][0]["delta"] = (
            {"content": ""}
            if not calls
            else {"tool_calls": [{"index": calls[0]["index"], "function": {"arguments": ""}}]}
        )
        blank["choices"][0]["finish_reason"] = None
        return [ev, blank] if keys else [ev]
    if keys == {"content"} and delta["content"]:
        field, text = "content", delta["content"]
    elif keys == {"reasoning_content"} and delta["reasoning_content"]:
        field, text = "reasoning_content", delta["reasoning_content"]
    elif keys == {"reasoning_content", "thinking_blocks"} and "thinking" in blocks[0]:
        field, text = "thinking", blocks[0]["thinking"]
    elif (
        keys == {"tool_calls"}
        and len(calls) == 1
        and "id" not in calls[0]
        and calls[0]["function"]["arguments"]
    ):
        field, text = "arguments", calls[0]["function"]["arguments"]
    else:
        return [ev]
    out = []
    for piece in pieces(text, rng):
        new = copy.deepcopy(ev)
        d = new["choices"][0]["delta"]
        if field == "arguments":
            d["tool_calls"][0]["function"]["arguments"] = piece
        elif field == "thinking":
            d["thinking_blocks"][0]["thinking"] = piece
            d["reasoning_content"] = piece
        else:
            d[field] = piece
        out.append(new)
    return out


def gemini_split(ev: Any, rng: random.Random, empty: bool) -> list[Any]:
    cands = ev.get("candidates") or []
    if "error" in ev or not cands:
        return [ev]
    parts = (cands[0].get("content") or {}).get("parts") or []
    if empty:
        blank = copy.deepcopy(ev)
        blank["candidates"][0]["content"]["parts"] = [{"text": ""}]
        blank["candidates"][0].pop("finishReason", None)
        return [blank, ev]
    out = []
    for part in parts:
        if "text" in part and part["text"] and set(part) <= {"text", "thought"}:
            for piece in pieces(part["text"], rng):
                new = copy.deepcopy(ev)
                new["candidates"][0]["content"]["parts"] = [{**part, "text": piece}]
                new["candidates"][0].pop("finishReason", None)
                out.append(new)
        else:
            new = copy.deepcopy(ev)
            new["candidates"][0]["content"]["parts"] = [part]
            new["candidates"][0].pop("finishReason", None)
            out.append(new)
    last = copy.deepcopy(ev)
    last["candidates"][0]["content"]["parts"] = []
    return [*out, last] if "finishReason" in cands[0] else out or [ev]


RESPONSES_TEXT = (
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
)


def responses_split(ev: Any, rng: random.Random, empty: bool) -> list[Any]:
    if ev["type"] not in RESPONSES_TEXT:
        return [ev]
    if empty:
        return [ev, {**ev, "delta": ""}]
    return [{**ev, "delta": piece} for piece in pieces(ev["delta"], rng)]


SPLITTERS: dict[str, Callable[[Any, random.Random, bool], list[Any]]] = {
    "anthropic": anthropic_split,
    "chat": chat_split,
    "gemini": gemini_split,
    "responses": responses_split,
}


def variant(fmt: str, raw: bytes, kind: str, seed: int) -> bytes:
    if kind == "base":
        return raw
    if kind == "framing":
        crlf = b"\r\n" in raw
        text = raw.replace(b"\r\n", b"\n")
        text = text.replace(b"\n\n", b"\n\n: keep-alive\n\n")
        return text if crlf else text.replace(b"\n", b"\r\n")
    rng = random.Random(seed)
    out = []
    for _, ev in events(raw):
        for new in SPLITTERS[fmt](ev, rng, kind == "empty"):
            if isinstance(new, dict) and "sequence_number" in new:
                new = {**new, "sequence_number": len(out)}
            named = fmt in ("anthropic", "responses") and isinstance(new, dict)
            out.append(dump(new["type"] if named else None, new))
    text = "".join(out)
    return text.replace("\n", "\r\n").encode() if fmt == "gemini" else text.encode()


def streams(fmt: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every stream of one format: each file in four variants."""
    for i, path in enumerate(sorted((CORPUS / fmt).glob("*.sse"))):
        raw = path.read_bytes()
        for kind in VARIANTS:
            yield f"{fmt}/{path.stem}/{kind}", variant(fmt, raw, kind, seed=i)


def split_randomly(raw: bytes, seed: int) -> list[bytes]:
    """The bytes cut into 1-7 byte chunks (UTF-8 sequences cut in the middle too)."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(raw):
        n = rng.randint(1, 7)
        out.append(raw[i : i + n])
        i += n
    return out
