"""Anthropic Messages streams <-> chat-completion chunks, as two small state machines.

The Messages stream (Anthropic, "Streaming Messages"): ``message_start``; per content block a
``content_block_start``, ``content_block_delta`` events (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``) and ``content_block_stop``; ``message_delta`` with
the stop reason and cumulative usage; ``message_stop``. ``ping`` may come at any time and
``error`` ends a broken stream. Each fragment is passed on as it came, never re-split or
re-encoded, so text and tool arguments reassemble byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from flightdeck.core.errors import UpstreamError
from flightdeck.wire import sse
from flightdeck.wire.anthropic import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    TYPE_TO_STATUS,
    error_body,
    usage_from_anthropic,
    usage_to_anthropic,
)
from flightdeck.wire.chat import Notes, Usage, chunk_base, delta_chunk, new_id


@dataclass(slots=True)
class _Block:
    kind: str  # text | thinking | redacted_thinking | tool_use
    index: int  # the chat-side index (thinking block or tool call); 0 for text
    start_input: Any = None
    saw_arguments: bool = False


class AnthropicToChat:
    """Messages API stream events in, chat chunks out (see ``wire.chat.ToChat``).

    ``include_usage``: the client asked for ``stream_options.include_usage``, so usage comes as
    a last chunk with no choices; otherwise it rides on the chunk with the finish reason.
    """

    def __init__(self, *, include_usage: bool = False) -> None:
        self.include_usage = include_usage
        self.base: dict[str, Any] | None = None
        self.blocks: dict[int, _Block] = {}
        self.tools = 0
        self.thinking = 0
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.stop_sequence: str | None = None
        self.stopped = False

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "ping":
            return []
        if kind == "error":
            raise stream_error(event.get("error"))
        if kind == "message_start":
            message = event.get("message") or {}
            self.base = chunk_base(message.get("id") or new_id("msg"), message.get("model", ""))
            self._usage(message.get("usage"))
            return [delta_chunk(self.base, {"role": "assistant", "content": ""})]
        if self.base is None:
            raise UpstreamError(f"upstream stream began with {kind!r}, not message_start")
        if kind == "content_block_start":
            return self._start(int(event.get("index", 0)), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(event.get("index", 0)), event.get("delta") or {})
        if kind == "content_block_stop":
            return self._stop(int(event.get("index", 0)))
        if kind == "message_delta":
            delta = event.get("delta") or {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
            self.stop_sequence = delta.get("stop_sequence") or self.stop_sequence
            self._usage(event.get("usage"))
            return []
        if kind == "message_stop":
            self.stopped = True
            return self._end()
        return []  # new event types may be added (Anthropic's versioning policy): skip them

    def finish(self) -> list[dict[str, Any]]:
        if not self.stopped:
            raise UpstreamError("upstream stream ended before message_stop")
        return []

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _emit(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.base is not None
        return [delta_chunk(self.base, delta)]

    def _start(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        kind = block.get("type")
        if kind == "text":
            self.blocks[index] = _Block("text", 0)
            return self._emit({"content": block["text"]}) if block.get("text") else []
        if kind in ("thinking", "redacted_thinking"):
            self.blocks[index] = _Block(kind, self.thinking)
            self.thinking += 1
            if kind == "redacted_thinking":
                frag = {"index": self.thinking - 1, "type": kind, "data": block.get("data", "")}
                return self._emit({"thinking_blocks": [frag]})
            if block.get("thinking"):
                return self._thinking(self.blocks[index], block["thinking"])
            return []
        if kind == "tool_use":
            self.blocks[index] = _Block("tool_use", self.tools, block.get("input"))
            self.tools += 1
            call = {
                "index": self.tools - 1,
                "id": block.get("id", ""),
                "type": "function",
                "function": {"name": block.get("name", ""), "arguments": ""},
            }
            return self._emit({"tool_calls": [call]})
        raise UpstreamError(f"upstream streamed a {kind!r} block, which has no place in chat")

    def _thinking(self, block: _Block, text: str) -> list[dict[str, Any]]:
        frag = {"index": block.index, "type": "thinking", "thinking": text}
        return self._emit({"reasoning_content": text, "thinking_blocks": [frag]})

    def _delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        block = self.blocks.get(index)
        if block is None:
            raise UpstreamError(f"upstream streamed a delta for block {index} before its start")
        kind = delta.get("type")
        if kind == "text_delta":
            return self._emit({"content": delta.get("text", "")}) if delta.get("text") else []
        if kind == "thinking_delta":
            return self._thinking(block, delta["thinking"]) if delta.get("thinking") else []
        if kind == "signature_delta":
            frag = {
                "index": block.index,
                "type": "thinking",
                "signature": delta.get("signature", ""),
            }
            return self._emit({"thinking_blocks": [frag]})
        if kind == "input_json_delta":
            partial = delta.get("partial_json") or ""
            if not partial:
                return []
            block.saw_arguments = True
            call = {"index": block.index, "function": {"arguments": partial}}
            return self._emit({"tool_calls": [call]})
        raise UpstreamError(f"upstream streamed a {kind!r} delta, which has no place in chat")

    def _stop(self, index: int) -> list[dict[str, Any]]:
        block = self.blocks.get(index)
        if block is None or block.kind != "tool_use" or block.saw_arguments:
            return []
        # No input_json_delta: the input was whole in content_block_start (often ``{}``).
        arguments = orjson.dumps(block.start_input or {}).decode()
        return self._emit(
            {"tool_calls": [{"index": block.index, "function": {"arguments": arguments}}]}
        )

    def _end(self) -> list[dict[str, Any]]:
        assert self.base is not None
        finish = STOP_TO_FINISH.get(self.stop_reason or "end_turn", "stop")
        end = delta_chunk(self.base, {}, finish)
        if self.stop_sequence is not None:
            end["choices"][0]["stop_reason"] = self.stop_sequence
        usage = usage_from_anthropic(self.usage).to_chat()
        if not self.include_usage:
            return [{**end, "usage": usage}]
        return [end, {**self.base, "choices": [], "usage": usage}]


def stream_error(error: Any) -> UpstreamError:
    """The UpstreamError for an Anthropic ``error`` event (its type kept, status mapped)."""
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type") or "api_error")
    message = str(error.get("message") or "the upstream stream failed")
    status = TYPE_TO_STATUS.get(kind, 502)
    return UpstreamError(f"upstream stream error ({kind}): {message}", upstream_status=status)


class ChatToAnthropic:
    """Chat chunks in, Messages API stream events out (see ``wire.chat.FromChat``).

    ``input_tokens`` goes into ``message_start`` (chat streams report usage only at the end;
    the final ``message_delta`` carries the real, cumulative counts).
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str | None = None,
        input_tokens: int = 0,
        notes: Notes | None = None,
    ) -> None:
        self.model = model
        self.notes = notes or Notes()
        self.message_id = message_id
        self.input_tokens = input_tokens
        self.started = False
        self.count = -1
        self.current: tuple[str, int] | None = None
        self.indexes: dict[tuple[str, int], int] = {}
        self.runs = 0
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None
        self.usage: Usage | None = None

    def encode(self, event: dict[str, Any]) -> bytes:
        return sse.encode(event, event["type"])

    def _message_start(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        self.started = True
        message: dict[str, Any] = {
            "id": self.message_id or chunk.get("id") or new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        # a ping follows message_start, as the Messages API sends one early in every stream
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events = [] if self.started else self._message_start(chunk)
        if isinstance(chunk.get("error"), dict):
            error = chunk["error"]
            return events + self.fail(str(error.get("message") or "upstream error"), 502)
        if isinstance(chunk.get("usage"), dict):
            self.usage = Usage.from_chat(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) == 0:
                events += self._choice(choice)
        return events

    def _choice(self, choice: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        delta = choice.get("delta") or {}
        if delta.get("thinking_blocks"):
            for frag in delta["thinking_blocks"]:
                events += self._thinking_fragment(frag)
        elif delta.get("reasoning_content"):
            events += self._open(
                self._run("reasoning"), {"type": "thinking", "thinking": "", "signature": ""}
            )
            events.append(
                self._delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]})
            )
        text = delta.get("content") or delta.get("refusal")
        if text:
            events += self._open(self._run("text"), {"type": "text", "text": ""})
            events.append(self._delta({"type": "text_delta", "text": text}))
        if delta.get("extra_content"):
            self.notes.dropped_thinking += 1  # a Gemini thought signature: no place here
        for frag in delta.get("tool_calls") or []:
            if frag.get("extra_content"):
                self.notes.dropped_thinking += 1
            events += self._tool_fragment(frag)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        if isinstance(choice.get("stop_reason"), str):
            self.stop_sequence = choice["stop_reason"]
        return events

    def _run(self, kind: str) -> tuple[str, int]:
        """The key of a block with no index of its own: the current one if it is of this kind."""
        if self.current is not None and self.current[0] == kind:
            return self.current
        self.runs += 1
        return (kind, self.runs)

    def _open(self, key: tuple[str, int], block: dict[str, Any]) -> list[dict[str, Any]]:
        if key == self.current or key in self.indexes:
            return []
        events = self._close()
        self.count += 1
        self.indexes[key] = self.count
        self.current = key
        events.append({"type": "content_block_start", "index": self.count, "content_block": block})
        return events

    def _close(self) -> list[dict[str, Any]]:
        if self.current is None:
            return []
        index = self.indexes[self.current]
        self.current = None
        return [{"type": "content_block_stop", "index": index}]

    def _delta(self, delta: dict[str, Any], key: tuple[str, int] | None = None) -> dict[str, Any]:
        where = key or self.current
        assert where is not None
        index = self.indexes[where]
        return {"type": "content_block_delta", "index": index, "delta": delta}

    def _thinking_fragment(self, frag: dict[str, Any]) -> list[dict[str, Any]]:
        key = ("thinking_block", int(frag.get("index", 0)))
        if frag.get("type") == "redacted_thinking":
            return self._open(key, {"type": "redacted_thinking", "data": frag.get("data", "")})
        events = self._open(key, {"type": "thinking", "thinking": "", "signature": ""})
        if frag.get("thinking"):
            events.append(
                self._delta({"type": "thinking_delta", "thinking": frag["thinking"]}, key)
            )
        if frag.get("signature"):
            events.append(
                self._delta({"type": "signature_delta", "signature": frag["signature"]}, key)
            )
        return events

    def _tool_fragment(self, frag: dict[str, Any]) -> list[dict[str, Any]]:
        key = ("tool", int(frag.get("index", 0)))
        fn = frag.get("function") or {}
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": frag.get("id") or new_id("toolu"),
            "name": fn.get("name") or "",
            "input": {},
        }
        events = self._open(key, block)
        if fn.get("arguments"):
            events.append(
                self._delta({"type": "input_json_delta", "partial_json": fn["arguments"]}, key)
            )
        return events

    def finish(self) -> list[dict[str, Any]]:
        events = [] if self.started else self._message_start({})
        events += self._close()
        stop_reason = FINISH_TO_STOP.get(self.finish_reason or "stop", "end_turn")
        if self.stop_sequence is not None and stop_reason == "end_turn":
            stop_reason = "stop_sequence"
        usage = usage_to_anthropic(self.usage or Usage(prompt=self.input_tokens))
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": self.stop_sequence},
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    def fail(self, message: str, status: int) -> list[dict[str, Any]]:
        return [error_body(status, message)]
