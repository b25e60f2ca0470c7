"""Responses API streams <-> chat-completion chunks.

The Responses stream (OpenAI, "Streaming events"): ``response.created``,
``response.in_progress``; per output item ``response.output_item.added``, its content events
(``response.content_part.added``, ``response.output_text.delta``/``.done``,
``response.reasoning_summary_part.added``, ``response.reasoning_summary_text.delta``/``.done``,
``response.function_call_arguments.delta``/``.done``) and ``response.output_item.done``; then
``response.completed`` (or ``response.incomplete``). A broken stream sends ``error`` and
``response.failed``. Every event has a ``sequence_number``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flightdeck.core.errors import UpstreamError
from flightdeck.wire import sse
from flightdeck.wire.chat import Notes, Usage, chunk_base, delta_chunk, new_id
from flightdeck.wire.responses import (
    function_call_item,
    response_shell,
    status_of,
    usage_from_responses,
    usage_to_responses,
)


@dataclass(slots=True)
class _Item:
    item: dict[str, Any]
    output_index: int
    parts: list[str] = field(default_factory=list)


class ChatToResponses:
    """Chat chunks in, Responses stream events out (see ``wire.chat.FromChat``).

    ``request``: the client's Responses request, echoed in the ``response`` objects.
    """

    def __init__(
        self, request: dict[str, Any], *, response_id: str | None = None, notes: Notes | None = None
    ) -> None:
        self.request = request
        self.response = response_shell(request, response_id or new_id("resp"), "in_progress")
        self.notes = notes or Notes()
        self.sequence = 0
        self.started = False
        self.items: list[_Item] = []
        self.current: tuple[str, int] | None = None
        self.keyed: dict[tuple[str, int], _Item] = {}
        self.runs = 0
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.signatures = 0

    def encode(self, event: dict[str, Any]) -> bytes:
        return sse.encode(event, event["type"])

    def _ev(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def _start(self) -> list[dict[str, Any]]:
        self.started = True
        return [
            self._ev("response.created", response=dict(self.response)),
            self._ev("response.in_progress", response=dict(self.response)),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events = [] if self.started else self._start()
        if isinstance(chunk.get("error"), dict):
            return events + self.fail(str(chunk["error"].get("message") or "upstream error"), 502)
        if isinstance(chunk.get("usage"), dict):
            self.usage = Usage.from_chat(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            events += self._delta(choice.get("delta") or {})
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _delta(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if delta.get("thinking_blocks"):
            for frag in delta["thinking_blocks"]:
                events += self._thinking(("block", int(frag.get("index", 0))), frag)
        elif delta.get("reasoning_content"):
            key = (
                self.current
                if self.current and self.current[0] == "reasoning"
                else self._run("reasoning")
            )
            events += self._thinking(
                key, {"type": "thinking", "thinking": delta["reasoning_content"]}
            )
        if delta.get("extra_content"):
            self.notes.dropped_thinking += 1  # a Gemini thought signature has no place here
        text = delta.get("content") or delta.get("refusal")
        if text:
            events += self._text(text)
        for frag in delta.get("tool_calls") or []:
            if frag.get("extra_content"):
                self.notes.dropped_thinking += 1
            events += self._call(frag)
        return events

    def _run(self, kind: str) -> tuple[str, int]:
        self.runs += 1
        return (kind, self.runs)

    def _open(self, key: tuple[str, int], item: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        entry = _Item(item, len(self.items))
        self.items.append(entry)
        self.keyed[key] = entry
        self.current = key
        events.append(
            self._ev("response.output_item.added", output_index=entry.output_index, item=dict(item))
        )
        return events

    def _thinking(self, key: tuple[str, int], frag: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        entry = self.keyed.get(key)
        if entry is None:
            item: dict[str, Any] = {
                "id": new_id("rs"),
                "type": "reasoning",
                "summary": [],
                "encrypted_content": None,
            }
            events += self._open(key, item)
            entry = self.keyed[key]
            if frag.get("type") == "redacted_thinking":
                item["encrypted_content"] = frag.get("data")
                return events
            part = {"type": "summary_text", "text": ""}
            events.append(
                self._ev(
                    "response.reasoning_summary_part.added",
                    **self._at(entry),
                    summary_index=0,
                    part=part,
                )
            )
            entry.item["summary"] = [part]
        if frag.get("thinking"):
            entry.parts.append(frag["thinking"])
            events.append(
                self._ev(
                    "response.reasoning_summary_text.delta",
                    **self._at(entry),
                    summary_index=0,
                    delta=frag["thinking"],
                )
            )
        if frag.get("signature"):
            entry.item["encrypted_content"] = (entry.item.get("encrypted_content") or "") + frag[
                "signature"
            ]
        return events

    def _text(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        key = self.current if self.current and self.current[0] == "text" else None
        if key is None:
            key = self._run("text")
            item = {
                "id": new_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            events += self._open(key, item)
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                self._ev(
                    "response.content_part.added",
                    **self._at(self.keyed[key]),
                    content_index=0,
                    part=part,
                )
            )
        entry = self.keyed[key]
        entry.parts.append(text)
        events.append(
            self._ev(
                "response.output_text.delta",
                **self._at(entry),
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _call(self, frag: dict[str, Any]) -> list[dict[str, Any]]:
        key = ("call", int(frag.get("index", 0)))
        events: list[dict[str, Any]] = []
        fn = frag.get("function") or {}
        if key not in self.keyed:
            call = {
                "id": frag.get("id") or new_id("call"),
                "function": {"name": fn.get("name") or ""},
            }
            events += self._open(key, function_call_item(call, "in_progress"))
        entry = self.keyed[key]
        if fn.get("arguments"):
            entry.parts.append(fn["arguments"])
            events.append(
                self._ev(
                    "response.function_call_arguments.delta",
                    **self._at(entry),
                    delta=fn["arguments"],
                )
            )
        return events

    @staticmethod
    def _at(entry: _Item) -> dict[str, Any]:
        return {"item_id": entry.item["id"], "output_index": entry.output_index}

    def _close(self) -> list[dict[str, Any]]:
        if self.current is None:
            return []
        entry = self.keyed[self.current]
        self.current = None
        item, text = entry.item, "".join(entry.parts)
        events: list[dict[str, Any]] = []
        if item["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            events.append(
                self._ev(
                    "response.output_text.done",
                    **self._at(entry),
                    content_index=0,
                    text=text,
                    logprobs=[],
                )
            )
            events.append(
                self._ev(
                    "response.content_part.done", **self._at(entry), content_index=0, part=part
                )
            )
            item.update(status="completed", content=[part])
        elif item["type"] == "reasoning" and item["summary"]:
            part = {"type": "summary_text", "text": text}
            events.append(
                self._ev(
                    "response.reasoning_summary_text.done",
                    **self._at(entry),
                    summary_index=0,
                    text=text,
                )
            )
            events.append(
                self._ev(
                    "response.reasoning_summary_part.done",
                    **self._at(entry),
                    summary_index=0,
                    part=part,
                )
            )
            item["summary"] = [part]
        elif item["type"] == "function_call":
            events.append(
                self._ev(
                    "response.function_call_arguments.done",
                    **self._at(entry),
                    name=item["name"],
                    arguments=text,
                )
            )
            item.update(status="completed", arguments=text)
        events.append(
            self._ev("response.output_item.done", output_index=entry.output_index, item=dict(item))
        )
        return events

    def final_response(self) -> dict[str, Any]:
        """The ``response`` object as it stands (complete once ``finish`` ran)."""
        return self.response

    def finish(self) -> list[dict[str, Any]]:
        events = [] if self.started else self._start()
        events += self._close()
        status, incomplete = status_of(self.finish_reason)
        self.response.update(
            status=status,
            incomplete_details=incomplete,
            output=[entry.item for entry in self.items],
            usage=usage_to_responses(self.usage or Usage()),
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        events.append(self._ev(kind, response=self.response))
        return events

    def fail(self, message: str, status: int) -> list[dict[str, Any]]:
        events = [] if self.started else self._start()
        code = "server_error" if status >= 500 else "invalid_request_error"
        self.response.update(status="failed", error={"code": code, "message": message})
        self.response["output"] = [entry.item for entry in self.items]
        events.append(self._ev("error", code=code, message=message, param=None))
        events.append(self._ev("response.failed", response=self.response))
        return events


class ResponsesToChat:
    """Responses stream events in, chat chunks out (see ``wire.chat.ToChat``)."""

    def __init__(self, *, include_usage: bool = False) -> None:
        self.include_usage = include_usage
        self.base: dict[str, Any] | None = None
        self.items: dict[str, tuple[str, int]] = {}
        self.args_seen: set[str] = set()
        self.tools = 0
        self.thinking = 0
        self.ended = False
        self.handlers = self._handlers()

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = str(event.get("type", ""))
        if kind == "error":
            raise UpstreamError(
                f"upstream stream error ({event.get('code')}): {event.get('message')}"
            )
        if kind == "response.failed":
            error = (event.get("response") or {}).get("error") or {}
            raise UpstreamError(
                f"upstream response failed ({error.get('code')}): {error.get('message')}"
            )
        if kind == "response.created":
            response = event.get("response") or {}
            self.base = chunk_base(
                response.get("id") or new_id("chatcmpl"), response.get("model") or ""
            )
            return [delta_chunk(self.base, {"role": "assistant", "content": ""})]
        if self.base is None:
            raise UpstreamError(f"upstream stream began with {kind!r}, not response.created")
        if kind in ("response.completed", "response.incomplete"):
            self.ended = True
            return self._end(event.get("response") or {})
        handler = self.handlers.get(kind)
        return handler(event) if handler else []

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]]:
        """The events that carry content, by type (the rest carry nothing chat needs)."""
        return {
            "response.output_item.added": self._added,
            "response.output_item.done": self._done,
            "response.output_text.delta": lambda e: self._emit({"content": e.get("delta", "")}),
            "response.refusal.delta": lambda e: self._emit({"refusal": e.get("delta", "")}),
            "response.reasoning_summary_text.delta": self._reasoning,
            "response.reasoning_text.delta": self._reasoning,
            "response.function_call_arguments.delta": self._arguments,
        }

    def _emit(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.base is not None
        if not any(delta.values()):
            return []
        return [delta_chunk(self.base, delta)]

    def _added(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        item = event.get("item") or {}
        if item.get("type") == "reasoning":
            self.items[item.get("id", "")] = ("reasoning", self.thinking)
            self.thinking += 1
        elif item.get("type") == "function_call":
            self.items[item.get("id", "")] = ("call", self.tools)
            self.tools += 1
            call = {
                "index": self.tools - 1,
                "id": item.get("call_id", ""),
                "type": "function",
                "function": {
                    "name": item.get("name", ""),
                    "arguments": item.get("arguments") or "",
                },
            }
            if item.get("arguments"):
                self.args_seen.add(item.get("id", ""))
            return self._emit({"tool_calls": [call]})
        elif item.get("type") != "message":
            raise UpstreamError(
                f"upstream streamed a {item.get('type')!r} item, which has no place in chat"
            )
        return []

    def _reasoning(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        _, index = self.items.get(event.get("item_id", ""), ("reasoning", 0))
        text = event.get("delta", "")
        frag = {"index": index, "type": "thinking", "thinking": text}
        return self._emit({"reasoning_content": text, "thinking_blocks": [frag]}) if text else []

    def _arguments(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        item_id = event.get("item_id", "")
        _, index = self.items.get(item_id, ("call", 0))
        if not event.get("delta"):
            return []
        self.args_seen.add(item_id)
        return self._emit(
            {"tool_calls": [{"index": index, "function": {"arguments": event["delta"]}}]}
        )

    def _done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        item = event.get("item") or {}
        kind, index = self.items.get(item.get("id", ""), ("message", 0))
        if kind == "call" and item.get("id") not in self.args_seen and item.get("arguments"):
            return self._emit(
                {"tool_calls": [{"index": index, "function": {"arguments": item["arguments"]}}]}
            )
        if kind != "reasoning":
            return []
        if not item.get("summary") and not item.get("content"):
            frag = {
                "index": index,
                "type": "redacted_thinking",
                "data": item.get("encrypted_content") or "",
            }
            return self._emit({"thinking_blocks": [frag]})
        if item.get("encrypted_content"):
            frag = {"index": index, "type": "thinking", "signature": item["encrypted_content"]}
            return self._emit({"thinking_blocks": [frag]})
        return []

    def _end(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.base is not None
        status, reason = (
            response.get("status"),
            (response.get("incomplete_details") or {}).get("reason"),
        )
        finish = "tool_calls" if self.tools else "stop"
        if status == "incomplete":
            finish = "content_filter" if reason == "content_filter" else "length"
        end = delta_chunk(self.base, {}, finish)
        usage = usage_from_responses(response.get("usage") or {}).to_chat()
        if not self.include_usage:
            return [{**end, "usage": usage}]
        return [end, {**self.base, "choices": [], "usage": usage}]

    def finish(self) -> list[dict[str, Any]]:
        if not self.ended:
            raise UpstreamError("upstream stream ended before response.completed")
        return []
