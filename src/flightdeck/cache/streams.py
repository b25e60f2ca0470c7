"""Streams in and out of the cache: record a chat stream's events, replay them with a fresh id,
assemble a stream into a reply and split a reply into a stream.

Wire format: OpenAI chat completions streaming, server-sent events of
``chat.completion.chunk`` objects ending with ``data: [DONE]``; with
``stream_options.include_usage`` every chunk carries ``"usage": null`` and one last chunk with
no choices carries the usage (https://platform.openai.com/docs/api-reference/chat-streaming).

A reply split into a stream is short: per choice a role chunk, one chunk with the whole
content (or the tool calls), and a finish chunk. A replayed stream is the recorded chunks, one
for one, sent as fast as the client reads them.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id (24 random bytes, as long as OpenAI's)."""
    return "chatcmpl-" + os.urandom(12).hex()


class StreamRecorder:
    """Collects a stream's chunks as they pass to the client (``see`` each event). The stream
    is complete, and worth storing, only when it ended with ``[DONE]`` and carried no error."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.broken = False
        self.size = 0

    def see(self, event: bytes) -> None:
        """One complete event (``data: ...\\n\\n``)."""
        if self.broken or self.done:
            self.broken = self.broken or self.done  # nothing may follow [DONE]
            return
        if event.startswith(DONE):
            self.done = True
            return
        if not event.startswith(b"data: "):
            return  # comments and keep-alives carry no answer
        try:
            chunk = orjson.loads(event[6:])
        except orjson.JSONDecodeError:
            self.broken = True
            return
        if not isinstance(chunk, dict) or "error" in chunk:
            self.broken = True
            return
        self.size += len(event)
        usage = chunk.pop("usage", None)
        if isinstance(usage, dict):
            self.usage = usage
        if chunk.get("choices"):
            self.chunks.append(chunk)

    @property
    def complete(self) -> bool:
        return self.done and not self.broken and bool(self.chunks)


def sse_events(
    chunks: list[dict[str, Any]],
    new_id: str,
    now: int,
    usage: dict[str, Any] | None,
    include_usage: bool,
) -> list[bytes]:
    """The chunks as events with ``new_id`` and ``now``, the usage chunk, and ``[DONE]``."""
    extra: dict[str, Any] = {"id": new_id, "created": now}
    if include_usage:
        extra["usage"] = None
    events = [b"data: " + orjson.dumps({**chunk, **extra}) + b"\n\n" for chunk in chunks]
    if include_usage and usage is not None and chunks:
        tail = {**chunks[-1], **extra, "choices": [], "usage": usage}
        events.append(b"data: " + orjson.dumps(tail) + b"\n\n")
    events.append(DONE)
    return events


def assemble_reply(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``chat.completion`` object from a stream's chunks (the usage is the caller's)."""
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for part in chunk.get("choices") or []:
            index = int(part.get("index", 0))
            choice = choices.setdefault(index, _empty_choice(index))
            _merge_delta(choice, part)
    first = chunks[0] if chunks else {}
    reply: dict[str, Any] = {"object": "chat.completion", "model": first.get("model")}
    for name in ("system_fingerprint", "service_tier"):
        if name in first:
            reply[name] = first[name]
    for choice in choices.values():
        calls = choice["message"].pop("_calls")
        if calls:
            choice["message"]["tool_calls"] = [calls[i] for i in sorted(calls)]
    reply["choices"] = [choices[i] for i in sorted(choices)]
    return reply


def split_reply(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a stream that carries ``reply`` (a ``chat.completion`` object)."""
    base = {"object": "chat.completion.chunk", "model": reply.get("model")}
    for name in ("system_fingerprint", "service_tier"):
        if name in reply:
            base[name] = reply[name]
    chunks: list[dict[str, Any]] = []
    for choice in reply.get("choices") or []:
        index = choice.get("index", 0)
        message = choice.get("message") or {}

        def chunk(delta: dict[str, Any], finish: Any = None, **more: Any) -> dict[str, Any]:
            part = {"index": index, "delta": delta, "finish_reason": finish, **more}  # noqa: B023
            return {**base, "choices": [part]}

        chunks.append(chunk({"role": message.get("role", "assistant"), "content": ""}))
        body = {k: v for k, v in message.items() if k != "role" and v is not None}
        if "tool_calls" in body:
            body["tool_calls"] = [{"index": i, **c} for i, c in enumerate(body["tool_calls"])]
        if body:
            logprobs = choice.get("logprobs")
            chunks.append(chunk(body, **({"logprobs": logprobs} if logprobs else {})))
        chunks.append(chunk({}, choice.get("finish_reason")))
    return chunks


def _empty_choice(index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "_calls": {}}
    return {"index": index, "message": message, "logprobs": None, "finish_reason": None}


def _merge_delta(choice: dict[str, Any], part: dict[str, Any]) -> None:
    message = choice["message"]
    delta = part.get("delta") or {}
    for name, value in delta.items():
        if name == "role":
            message["role"] = value
        elif name in ("content", "refusal") and isinstance(value, str):
            message[name] = (message.get(name) or "") + value
        elif name == "tool_calls" and isinstance(value, list):
            for call in value:
                _merge_call(message["_calls"], call)
        elif value is not None:
            message[name] = value
    if part.get("finish_reason") is not None:
        choice["finish_reason"] = part["finish_reason"]
    logprobs = part.get("logprobs")
    if isinstance(logprobs, dict):
        merged = choice["logprobs"] or {"content": [], "refusal": None}
        for name in ("content", "refusal"):
            if isinstance(logprobs.get(name), list):
                merged[name] = (merged.get(name) or []) + logprobs[name]
        choice["logprobs"] = merged


def _merge_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    index = int(delta.get("index", len(calls)))
    call = calls.setdefault(index, {"id": None, "type": "function", "function": {}})
    for name in ("id", "type"):
        if delta.get(name) is not None:
            call[name] = delta[name]
    function = delta.get("function") or {}
    target = call["function"]
    if function.get("name"):
        target["name"] = target.get("name", "") + function["name"]
    if function.get("arguments") is not None:
        target["arguments"] = target.get("arguments", "") + function["arguments"]
