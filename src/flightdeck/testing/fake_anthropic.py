"""A fake Anthropic Messages API (``/v1/messages``, ``/v1/messages/count_tokens``) over HTTP.

Written from Anthropic's API reference, independently of ``flightdeck.wire``: it checks the
headers and required fields the real API checks, answers errors in Anthropic's shape, and
streams the documented event sequence (``message_start``, blocks with ``text_delta``,
``thinking_delta`` + ``signature_delta``, ``input_json_delta`` cut mid-value, ``ping``,
``message_delta``, ``message_stop``). ``script()`` replays corpus streams instead.

Default reply: the last user text echoed (``echo: ...``); a ``tool_use`` of the first tool
when tools are offered; ``tool said: ...`` after a ``tool_result``; a signed thinking block
first when ``thinking`` is enabled. Prompt caching: the words of a ``cache_control``-marked
system prompt are written to the cache on first sight and read from it afterwards.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from aiohttp import web

from flightdeck.testing.fake_server import Behaviour, FakeServer, json_response, words

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def event(data: dict[str, Any]) -> bytes:
    name = str(data["type"]).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text", "")) for b in content or [] if b.get("type") == "text")


class FakeAnthropic(FakeServer):
    """``api_key``: the ``x-api-key`` to require (None: any)."""

    def __init__(self, behaviour: Behaviour | None = None, *, api_key: str | None = None) -> None:
        super().__init__(behaviour)
        self.api_key = api_key
        self.cached: set[str] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        return app

    def error_body(self, status: int, message: str) -> Any:
        kind = ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def refuse(self, status: int, message: str) -> web.Response:
        return json_response(self.error_body(status, message), status, {"request-id": "req_fake"})

    def check(
        self, request: web.Request, body: dict[str, Any], *, count: bool = False
    ) -> web.Response | None:
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return self.refuse(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.refuse(400, "anthropic-version: header is required")
        for name in ("model", "messages") if count else ("model", "messages", "max_tokens"):
            if name not in body:
                return self.refuse(400, f"{name}: Field required")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return self.refuse(400, "messages: at least one message is required")
        return None

    async def count_tokens(self, request: web.Request) -> web.StreamResponse:
        body, failure = await self.admit(request)
        if failure is not None:
            return failure
        refused = self.check(request, body, count=True)
        return refused or json_response({"input_tokens": self.input_words(body)})

    def input_words(self, body: dict[str, Any]) -> int:
        system = body.get("system") or ""
        texts = [text_of(system)] + [text_of(m.get("content")) for m in body["messages"]]
        return sum(len(t.split()) for t in texts) + 3 * len(body["messages"])

    def usage(self, body: dict[str, Any], output: int) -> dict[str, Any]:
        total = self.input_words(body)
        system = body.get("system")
        marked = isinstance(system, list) and any(b.get("cache_control") for b in system)
        cached = len(text_of(system).split()) if marked else 0
        key = hashlib.sha256(orjson.dumps(system)).hexdigest()
        read = cached if key in self.cached else 0
        write = cached - read
        if marked:
            self.cached.add(key)
        return {
            "input_tokens": total - cached,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "output_tokens": output,
        }

    def reply_blocks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        last = body["messages"][-1]
        content = last.get("content")
        text = text_of(content)
        blocks: list[dict[str, Any]] = []
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            thought = f"Thinking about: {text}"
            signature = "sig_" + hashlib.sha256(thought.encode()).hexdigest()[:24]
            blocks.append({"type": "thinking", "thinking": thought, "signature": signature})
        results = (
            [b for b in content if b.get("type") == "tool_result"]
            if isinstance(content, list)
            else []
        )
        tools = body.get("tools") or []
        choice = (body.get("tool_choice") or {}).get("type")
        if results:
            said = results[0].get("content")
            blocks.append(
                {
                    "type": "text",
                    "text": f"tool said: {said if isinstance(said, str) else text_of(said)}",
                }
            )
        elif tools and choice != "none":
            call = {
                "type": "tool_use",
                "id": "toolu_fake_01",
                "name": tools[0]["name"],
                "input": {"query": text},
            }
            blocks.append(call)
        else:
            blocks.append({"type": "text", "text": f"echo: {text}"})
        return blocks

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body, failure = await self.admit(request)
        if failure is not None:
            return failure
        refused = self.check(request, body)
        if refused is not None:
            return refused
        blocks = self.reply_blocks(body)
        output = sum(
            len(str(b.get("text") or b.get("thinking") or b.get("input"))) // 4 + 1 for b in blocks
        )
        message = {
            "id": "msg_fake_" + hashlib.sha256(orjson.dumps(body)).hexdigest()[:16],
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": "tool_use" if blocks[-1]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": self.usage(body, output),
        }
        if not body.get("stream"):
            return json_response(message)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await self.write_events(request, resp, self.stream_events(message))
        return resp

    def stream_events(self, message: dict[str, Any]) -> list[bytes]:
        usage = dict(message["usage"])
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        out = [event({"type": "message_start", "message": start})]
        n = self.behaviour.stream_chunks
        for i, block in enumerate(message["content"]):
            kind = block["type"]
            empty = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}}
            first = {"type": kind, **empty.get(kind, {})}
            if kind == "tool_use":
                first.update(id=block["id"], name=block["name"], input={})
            out.append(event({"type": "content_block_start", "index": i, "content_block": first}))
            for delta in self.deltas(block, n):
                out.append(event({"type": "content_block_delta", "index": i, "delta": delta}))
            out.append(event({"type": "content_block_stop", "index": i}))
            if i == 0:
                out.append(b'event: ping\ndata: {"type": "ping"}\n\n')
        delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        out.append(
            event(
                {
                    "type": "message_delta",
                    "delta": delta,
                    "usage": {"output_tokens": usage["output_tokens"]},
                }
            )
        )
        out.append(event({"type": "message_stop"}))
        return out

    @staticmethod
    def deltas(block: dict[str, Any], n: int) -> list[dict[str, Any]]:
        if block["type"] == "text":
            return [{"type": "text_delta", "text": piece} for piece in words(block["text"], n)]
        if block["type"] == "thinking":
            pieces = [
                {"type": "thinking_delta", "thinking": p} for p in words(block["thinking"], n)
            ]
            return [*pieces, {"type": "signature_delta", "signature": block["signature"]}]
        raw = orjson.dumps(block["input"]).decode()
        cut = max(1, len(raw) // 2)  # mid-value, as the real API cuts
        return [
            {"type": "input_json_delta", "partial_json": part} for part in (raw[:cut], raw[cut:])
        ]
