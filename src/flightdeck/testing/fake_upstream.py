"""A fake OpenAI-compatible upstream that speaks the real wire format over HTTP.

It stands in for hosted model APIs (the one edge tests cannot reach). Its ``Behaviour`` sets
latency, failure rate and status, ``Retry-After``, hangs and mid-stream resets; it can be
changed while the server runs. Start it in a thread (tests) or as a process (benchmarks):

    python -m flightdeck.testing.fake_upstream --port 9000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import struct
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from flightdeck.testing.fake_server import (
    Behaviour,
    FakeServer,
    Record,
    json_response,
    words,
)

__all__ = ["Behaviour", "FakeUpstream", "Record", "finish_reason", "reply_message"]
_json = json_response


class FakeUpstream(FakeServer):
    """A fake OpenAI-compatible upstream on a loopback port, speaking the real wire format."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self.chat)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self.embeddings)
        return app

    async def _admit(
        self, request: web.Request
    ) -> tuple[dict[str, Any], web.StreamResponse | None]:
        return await self.admit(request)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body, failure = await self._admit(request)
        if failure is not None:
            return failure
        message = reply_message(body)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in body["messages"])
        completion_tokens = len(str(message.get("content") or "").split()) + 1
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": body["model"],
        }
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish_reason(message)}
            return _json({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        return await self._stream(request, body, base, message, usage)

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        base: dict[str, Any],
        message: dict[str, Any],
        usage: dict[str, int],
    ) -> web.StreamResponse:
        """Chunks as OpenAI sends them; reset mid-stream when the behaviour says so."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {**base, "object": "chat.completion.chunk"}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if message.get("tool_calls"):
            deltas.append({"tool_calls": [{"index": 0, **message["tool_calls"][0]}]})
        else:
            deltas += [
                {"content": piece}
                for piece in words(str(message["content"]), self.behaviour.stream_chunks)
            ]
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = [
            b"data: "
            + orjson.dumps({**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]})
            + b"\n\n"
            for d in deltas
        ]
        end = {"index": 0, "delta": {}, "finish_reason": finish_reason(message)}
        events.append(b"data: " + orjson.dumps({**base, "choices": [end]}) + b"\n\n")
        if include_usage:
            events.append(
                b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n"
            )
        events.append(b"data: [DONE]\n\n")
        await self.write_events(request, resp, events)
        return resp

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        body, failure = await self._admit(request)
        if failure is not None:
            return failure
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        b = self.behaviour
        size = b.embedding_size
        if b.honour_dimensions and isinstance(body.get("dimensions"), int):
            size = body["dimensions"]
        fmt = {"ignore": "float", "base64": "base64"}.get(
            b.embedding_format, body.get("encoding_format") or "float"
        )
        data = []
        for i, text in enumerate(inputs):
            vector = fake_vector(str(text), size)
            embedding: list[float] | str = vector
            if fmt == "base64":
                embedding = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = sum(len(str(t).split()) for t in inputs)
        return _json(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(self, request: web.Request) -> web.Response:
        return _json({"object": "list", "data": [{"id": "fake", "object": "model"}]})


def fake_vector(text: str, size: int) -> list[float]:
    """A deterministic vector of ``size`` numbers in [0, 1] for ``text`` (float32-exact)."""
    digest = b""
    while len(digest) < size:
        digest += hashlib.sha256(text.encode() + len(digest).to_bytes(4, "little")).digest()
    return [b / 256 for b in digest[:size]]


def reply_message(body: dict[str, Any]) -> dict[str, Any]:
    """Echo the last user message; call the first tool when tools are offered; JSON on request."""
    messages = body["messages"]
    last = messages[-1]
    tools = body.get("tools") or []
    if last.get("role") == "tool":
        return {"role": "assistant", "content": f"tool said: {last.get('content')}"}
    if tools and body.get("tool_choice") != "none":
        fn = tools[0]["function"]["name"]
        call = {"id": "call_1", "type": "function", "function": {"name": fn, "arguments": "{}"}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        return {"role": "assistant", "content": '{"ok": true}'}
    return {"role": "assistant", "content": f"echo: {last.get('content')}"}


def finish_reason(message: dict[str, Any]) -> str:
    return "tool_calls" if message.get("tool_calls") else "stop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    upstream = FakeUpstream(Behaviour(latency=args.latency))
    web.run_app(
        upstream.app(), host=args.host, port=args.port, access_log=None, print=None, backlog=2048
    )


if __name__ == "__main__":
    main()
