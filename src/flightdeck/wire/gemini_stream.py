"""Gemini ``streamGenerateContent?alt=sse`` streams <-> chat-completion chunks.

Each Gemini event is a whole ``GenerateContentResponse`` holding the next parts of candidate
0: text (``thought: true`` for thought summaries), whole ``functionCall`` parts (Gemini does not
split arguments), ``thoughtSignature`` on some parts; ``usageMetadata`` is cumulative and the
last event has ``finishReason``. A broken stream ends with ``{"error": {...}}``.

Chat tool-call arguments arrive in fragments; Gemini carries them as one JSON object, so the
chat-to-Gemini direction buffers each call until it is complete (the next call starts, other
content follows, or the reply ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from flightdeck.core.errors import UpstreamError
from flightdeck.wire import sse
from flightdeck.wire.chat import Notes, Usage, chunk_base, delta_chunk, new_id
from flightdeck.wire.gemini import (
    FINISH_OUT,
    error_body,
    finish_reason,
    part_kind,
    stream_error,
    thought_signature,
    tool_call,
    usage_from_gemini,
    usage_to_gemini,
)


class GeminiToChat:
    """Gemini stream events in, chat chunks out (see ``wire.chat.ToChat``)."""

    def __init__(self, *, include_usage: bool = False) -> None:
        self.include_usage = include_usage
        self.base: dict[str, Any] | None = None
        self.tools = 0
        self.usage: dict[str, Any] = {}
        self.last: dict[str, Any] | None = None
        self.ended = False

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "error" in event:
            raise stream_error(event["error"])
        out: list[dict[str, Any]] = []
        if self.base is None:
            self.base = chunk_base(
                event.get("responseId") or new_id("chatcmpl"), event.get("modelVersion", "")
            )
            out.append(delta_chunk(self.base, {"role": "assistant", "content": ""}))
        if isinstance(event.get("usageMetadata"), dict):
            self.usage = event["usageMetadata"]
        candidates = event.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        for part in (candidate.get("content") or {}).get("parts") or []:
            out += self._part(part)
        if candidate.get("finishReason") or (
            not candidates and (event.get("promptFeedback") or {}).get("blockReason")
        ):
            self.last = event
            self.ended = True
        return out

    def _part(self, part: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.base is not None
        kind = part_kind(part)
        if kind == "call":
            call = {"index": self.tools, **tool_call(part)}
            self.tools += 1
            return [delta_chunk(self.base, {"tool_calls": [call]})]
        out = []
        text = part.get("text") or ""
        if text:
            key = "reasoning_content" if kind == "thought" else "content"
            out.append(delta_chunk(self.base, {key: text}))
        if part.get("thoughtSignature"):
            extra = {"google": {"thought_signature": part["thoughtSignature"]}}
            out.append(delta_chunk(self.base, {"extra_content": extra}))
        return out

    def finish(self) -> list[dict[str, Any]]:
        if not self.ended or self.last is None or self.base is None:
            raise UpstreamError("upstream stream ended before its finishReason")
        end = delta_chunk(self.base, {}, finish_reason(self.last, self.tools > 0))
        usage = usage_from_gemini(self.usage).to_chat()
        if not self.include_usage:
            return [{**end, "usage": usage}]
        return [end, {**self.base, "choices": [], "usage": usage}]


@dataclass(slots=True)
class _PendingCall:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    signature: str | None = None


class ChatToGemini:
    """Chat chunks in, Gemini stream events out (see ``wire.chat.FromChat``).

    Anthropic thinking signatures and redacted thinking have no place in Gemini: they are
    dropped and counted in ``notes``.
    """

    def __init__(
        self, *, model: str, response_id: str | None = None, notes: Notes | None = None
    ) -> None:
        self.model = model
        self.response_id = response_id
        self.notes = notes or Notes()
        self.pending: dict[int, _PendingCall] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.dropped: set[int] = set()

    def encode(self, event: dict[str, Any]) -> bytes:
        return sse.encode(event, crlf=True)

    def _event(self, parts: list[dict[str, Any]], chunk_id: str | None = None) -> dict[str, Any]:
        self.response_id = self.response_id or chunk_id or new_id("resp")
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
        return {
            "candidates": [candidate],
            "modelVersion": self.model,
            "responseId": self.response_id,
        }

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(chunk.get("error"), dict):
            return self.fail(str(chunk["error"].get("message") or "upstream error"), 502)
        if isinstance(chunk.get("usage"), dict):
            self.usage = Usage.from_chat(chunk["usage"])
        parts: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) == 0:
                parts += self._delta(choice.get("delta") or {})
                if choice.get("finish_reason"):
                    self.finish_reason = choice["finish_reason"]
                    parts += self._flush()
        return [self._event(parts, chunk.get("id"))] if parts else []

    def _delta(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        calls = delta.get("tool_calls") or []
        first_call = min((int(c.get("index", 0)) for c in calls), default=None)
        if any(delta.get(k) for k in ("reasoning_content", "content", "refusal", "extra_content")):
            parts += self._flush()
        elif first_call is not None:
            parts += self._flush(below=first_call)
        for frag in delta.get("thinking_blocks") or []:
            index = int(frag.get("index", 0))
            if (
                frag.get("signature") or frag.get("type") == "redacted_thinking"
            ) and index not in self.dropped:
                self.dropped.add(index)
                self.notes.dropped_thinking += 1
        if delta.get("reasoning_content"):
            parts.append({"text": delta["reasoning_content"], "thought": True})
        text = delta.get("content") or delta.get("refusal")
        if text:
            parts.append({"text": text})
        signature = thought_signature(delta)
        if signature:
            parts.append({"text": "", "thoughtSignature": signature})
        for frag in calls:
            self._call_fragment(frag)
        return parts

    def _call_fragment(self, frag: dict[str, Any]) -> None:
        index = int(frag.get("index", 0))
        fn = frag.get("function") or {}
        call = self.pending.get(index)
        if call is None:
            call = self.pending[index] = _PendingCall(frag.get("id") or new_id("call"), "")
        call.name += fn.get("name") or ""
        if fn.get("arguments"):
            call.arguments.append(fn["arguments"])
        call.signature = thought_signature(frag) or call.signature

    def _flush(self, below: int | None = None) -> list[dict[str, Any]]:
        parts = []
        for index in sorted(self.pending):
            if below is not None and index >= below:
                break
            call = self.pending.pop(index)
            raw = "".join(call.arguments) or "{}"
            try:
                args = orjson.loads(raw)
            except orjson.JSONDecodeError:
                args = None
            if not isinstance(args, dict):
                raise UpstreamError(
                    f"tool call {call.name!r} has arguments that are not a JSON object"
                )
            part: dict[str, Any] = {
                "functionCall": {"id": call.id, "name": call.name, "args": args}
            }
            if call.signature:
                part["thoughtSignature"] = call.signature
            parts.append(part)
        return parts

    def finish(self) -> list[dict[str, Any]]:
        event = self._event(self._flush())
        event["candidates"][0]["finishReason"] = FINISH_OUT.get(
            self.finish_reason or "stop", "STOP"
        )
        event["usageMetadata"] = usage_to_gemini(self.usage or Usage())
        return [event]

    def fail(self, message: str, status: int) -> list[dict[str, Any]]:
        return [error_body(status, message)]
