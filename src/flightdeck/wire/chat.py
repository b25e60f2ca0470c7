"""The internal model: OpenAI chat-completions JSON, with the fields other formats need.

Every inbound API is translated to a chat-completions request, and every provider takes one and
answers with a chat completion (or a stream of ``chat.completion.chunk`` objects). Where chat
completions has no place for a field, the field is added under the name that LiteLLM, vLLM or
the vendor's own OpenAI compatibility already use:

- message (and delta) ``reasoning_content``: the thinking text, every block concatenated.
- message ``thinking_blocks``: ``[{"type": "thinking", "thinking", "signature"},
  {"type": "redacted_thinking", "data"}]``; in a delta each fragment has an ``index``, like
  ``tool_calls`` (``{"index", "type", "thinking"}``, ``{"index", "type", "signature"}``).
  Anthropic's signatures live here.
- tool call and message ``extra_content.google.thought_signature``: Gemini's thought signatures
  (the name Gemini's OpenAI compatibility uses).
- choice ``stop_reason``: the stop sequence that ended the reply (vLLM's name).
- tool message ``is_error``: Anthropic's ``tool_result.is_error``.
- content parts and tools keep ``cache_control`` (Anthropic prompt caching).
- request ``thinking`` (Anthropic's config object), ``top_k``.
- usage: ``prompt_tokens`` counts every input token, cached reads
  (``prompt_tokens_details.cached_tokens``) and cache writes
  (``prompt_tokens_details.cache_write_tokens``, the OpenAI SDK's name) included;
  ``completion_tokens`` counts reasoning (``completion_tokens_details.reasoning_tokens``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from flightdeck.core.ids import unique_id


def new_id(prefix: str) -> str:
    """A unique id in the shape vendors use: ``msg_…``, ``toolu_…``, ``resp_…``."""
    return f"{prefix}_{unique_id()}"


@dataclass(slots=True)
class Notes:
    """What a translation could not carry, counted (never dropped silently).

    ``dropped_thinking``: thinking blocks (or signatures) left out because the target format
    or vendor has no place for them. Routes surface it as ``x-flightdeck-thinking-dropped``.
    """

    dropped_thinking: int = 0


@dataclass(slots=True)
class Usage:
    """Token counts of one call, in the internal model's terms (see the module docstring).

    ``prompt`` includes ``cached`` (read from a prompt cache) and ``cache_write`` (written to
    one); ``completion`` includes ``reasoning``. All in tokens.
    """

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @classmethod
    def from_chat(cls, usage: Any) -> Usage:
        """Read a chat ``usage`` object; missing or malformed numbers count as 0."""
        if not isinstance(usage, dict):
            return cls()
        prompt_details = usage.get("prompt_tokens_details")
        out_details = usage.get("completion_tokens_details")
        if not isinstance(prompt_details, dict):
            prompt_details = {}
        if not isinstance(out_details, dict):
            out_details = {}
        return cls(
            prompt=count(usage.get("prompt_tokens")),
            completion=count(usage.get("completion_tokens")),
            cached=count(prompt_details.get("cached_tokens")),
            cache_write=count(prompt_details.get("cache_write_tokens")),
            reasoning=count(out_details.get("reasoning_tokens")),
        )

    def to_chat(self) -> dict[str, Any]:
        """The chat ``usage`` object; the details appear only when they are not zero."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
        }
        if self.cached or self.cache_write:
            details = {"cached_tokens": self.cached}
            if self.cache_write:
                details["cache_write_tokens"] = self.cache_write
            usage["prompt_tokens_details"] = details
        if self.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning}
        return usage


def count(value: Any) -> int:
    """A token count from JSON: a non-negative int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class ToChat(Protocol):
    """A stream translator from a vendor's events to chat chunks (a small state machine)."""

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Chunks for one vendor event; raises UpstreamError for an error event."""
        ...

    def finish(self) -> list[dict[str, Any]]:
        """Chunks at the end of the stream; raises UpstreamError if it was cut short."""
        ...


class FromChat(Protocol):
    """A stream translator from chat chunks to a vendor's events."""

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]:
        """The closing events, once the chat stream ended well."""
        ...

    def fail(self, message: str, status: int) -> list[dict[str, Any]]:
        """The events that tell the client the stream broke (``status``: the HTTP status
        the error would have had before the stream started)."""
        ...

    def encode(self, event: dict[str, Any]) -> bytes:
        """One event framed as this format's server-sent event."""
        ...


def chunk_base(completion_id: str, model: str, created: int | None = None) -> dict[str, Any]:
    """The fields every ``chat.completion.chunk`` repeats."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created if created is not None else int(time.time()),
        "model": model,
    }


def delta_chunk(
    base: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    """A chunk with one choice."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {**base, "choices": [choice]}


class ChatAssembler:
    """Chat chunks in, the chat completion they add up to out (choice 0).

    Text, reasoning and each tool call's arguments are concatenated exactly as sent; thinking
    blocks and tool calls are ordered by their ``index``.
    """

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.content: list[str] = []
        self.saw_content = False
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.blocks: dict[int, dict[str, Any]] = {}
        self.tools: dict[int, dict[str, Any]] = {}
        self.extra: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.stop_reason: Any = None
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        self.id = self.id or chunk.get("id", "")
        self.model = self.model or chunk.get("model", "")
        self.created = self.created or chunk.get("created", 0)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            self._delta(choice.get("delta") or {})
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            if choice.get("stop_reason") is not None:
                self.stop_reason = choice["stop_reason"]

    def _delta(self, delta: dict[str, Any]) -> None:
        if delta.get("content") is not None:
            self.saw_content = True
            self.content.append(delta["content"])
        if delta.get("refusal"):
            self.refusal.append(delta["refusal"])
        if delta.get("reasoning_content"):
            self.reasoning.append(delta["reasoning_content"])
        for frag in delta.get("thinking_blocks") or []:
            block = self.blocks.setdefault(frag.get("index", 0), {"type": frag.get("type")})
            for key in ("thinking", "signature", "data"):
                if key in frag:
                    block[key] = block.get(key, "") + (frag[key] or "")
        for frag in delta.get("tool_calls") or []:
            self._tool(frag)
        if isinstance(delta.get("extra_content"), dict):
            self.extra = delta["extra_content"]

    def _tool(self, frag: dict[str, Any]) -> None:
        call = self.tools.get(frag.get("index", 0))
        if call is None:
            call = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            self.tools[frag.get("index", 0)] = call
        if frag.get("id"):
            call["id"] = frag["id"]
        fn = frag.get("function") or {}
        if fn.get("name"):
            call["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            call["function"]["arguments"] += fn["arguments"]
        if isinstance(frag.get("extra_content"), dict):
            call["extra_content"] = frag["extra_content"]

    def message(self) -> dict[str, Any]:
        text = "".join(self.content)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if (text or (self.saw_content and not self.tools)) else None,
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.blocks:
            message["thinking_blocks"] = [self.blocks[i] for i in sorted(self.blocks)]
        if self.tools:
            message["tool_calls"] = [self.tools[i] for i in sorted(self.tools)]
        if self.extra is not None:
            message["extra_content"] = self.extra
        return message

    def completion(self) -> dict[str, Any]:
        choice: dict[str, Any] = {
            "index": 0,
            "message": self.message(),
            "finish_reason": self.finish_reason,
        }
        if self.stop_reason is not None:
            choice["stop_reason"] = self.stop_reason
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }
        if self.usage is not None:
            out["usage"] = self.usage
        return out


def assemble(chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The chat completion a list of chunks adds up to."""
    assembler = ChatAssembler()
    for chunk in chunks:
        assembler.add(chunk)
    return assembler.completion()


def completion_chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat completion as the chunks of a stream (role, thinking, text, tool calls, end)."""
    base = chunk_base(completion.get("id") or new_id("chatcmpl"), completion.get("model", ""))
    base["created"] = completion.get("created") or base["created"]
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    chunks = [delta_chunk(base, {"role": "assistant", "content": ""})]
    for i, block in enumerate(message.get("thinking_blocks") or []):
        chunks.append(delta_chunk(base, _block_delta(i, block)))
    if message.get("reasoning_content") and not message.get("thinking_blocks"):
        chunks.append(delta_chunk(base, {"reasoning_content": message["reasoning_content"]}))
    if message.get("content"):
        chunks.append(delta_chunk(base, {"content": message["content"]}))
    if message.get("extra_content"):
        chunks.append(delta_chunk(base, {"extra_content": message["extra_content"]}))
    for i, call in enumerate(message.get("tool_calls") or []):
        chunks.append(delta_chunk(base, {"tool_calls": [{"index": i, **call}]}))
    end = delta_chunk(base, {}, choice.get("finish_reason") or "stop")
    if choice.get("stop_reason") is not None:
        end["choices"][0]["stop_reason"] = choice["stop_reason"]
    if completion.get("usage") is not None:
        end["usage"] = completion["usage"]
    chunks.append(end)
    return chunks


def _block_delta(index: int, block: dict[str, Any]) -> dict[str, Any]:
    frag = {"index": index, **block}
    delta: dict[str, Any] = {"thinking_blocks": [frag]}
    if block.get("type") == "thinking" and block.get("thinking"):
        delta["reasoning_content"] = block["thinking"]
    return delta
