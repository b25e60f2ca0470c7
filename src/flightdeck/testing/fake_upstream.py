"""A fake OpenAI-compatible upstream that speaks the real wire format over HTTP.

It stands in for hosted model APIs (the one edge tests cannot reach). Its ``Behaviour`` sets
latency, failure rate and status, ``Retry-After``, hangs and mid-stream resets; it can be
changed while the server runs. Start it in a thread (tests) or as a process (benchmarks):

    python -m flightdeck.testing.fake_upstream --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Behaviour:
    latency: float = 0.0  # seconds before answering (and between stream chunks)
    failure_rate: float = 0.0  # share of requests answered with fail_status
    fail_status: int = 500
    retry_after: float | None = None  # sent with failures
    hang: bool = False  # never answer
    reset_after_chunks: int | None = None  # streams: drop the connection after this many chunks
    stream_chunks: int = 5
    chunk_delay: float = 0.0


@dataclass
class Record:
    """What the upstream saw: counts by path, cancelled handlers, the last request."""

    counts: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    last_body: dict[str, Any] | None = None
    last_headers: dict[str, str] = field(default_factory=dict)
    last_query: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


class FakeUpstream:
    def __init__(self, behaviour: Behaviour | None = None, *, seed: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.record = Record()
        self.port = 0
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

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

    # --- lifecycle -------------------------------------------------------------------------
    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> FakeUpstream:
        """Run in a background thread with its own event loop."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start_async())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-upstream")
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- handlers --------------------------------------------------------------------------
    async def _admit(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        b = self.behaviour
        self.record.counts[request.path] += 1
        self.record.last_headers = dict(request.headers)
        self.record.last_query = dict(request.query)
        body = orjson.loads(await request.read())
        self.record.last_body = body
        try:
            if b.hang:
                await asyncio.sleep(3600)
            if b.latency:
                await asyncio.sleep(b.latency)
        except asyncio.CancelledError:
            self.record.cancelled += 1
            raise
        if b.failure_rate and self._rng.random() < b.failure_rate:
            headers = {"Retry-After": f"{b.retry_after:g}"} if b.retry_after is not None else None
            err = {"message": f"fake upstream failure {b.fail_status}", "type": "server_error"}
            return body, _json({"error": err}, b.fail_status, headers)
        return body, None

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
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
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
        b = self.behaviour
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {**base, "object": "chat.completion.chunk"}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if message.get("tool_calls"):
            deltas.append({"tool_calls": [{"index": 0, **message["tool_calls"][0]}]})
        else:
            words = str(message["content"]).split(" ")
            n = max(1, b.stream_chunks)
            step = max(1, -(-len(words) // n))
            deltas += [
                {"content": " ".join(words[i : i + step]) + (" " if i + step < len(words) else "")}
                for i in range(0, len(words), step)
            ]
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        try:
            for i, delta in enumerate(deltas):
                if b.reset_after_chunks is not None and i >= b.reset_after_chunks:
                    assert request.transport is not None
                    await asyncio.sleep(0.05)  # let what was written reach the client first
                    request.transport.abort()  # a connection reset, mid-stream
                    return resp
                chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
                if b.chunk_delay:
                    await asyncio.sleep(b.chunk_delay)
            end = {"index": 0, "delta": {}, "finish_reason": finish_reason(message)}
            await resp.write(b"data: " + orjson.dumps({**base, "choices": [end]}) + b"\n\n")
            if include_usage:
                tail = {**base, "choices": [], "usage": usage}
                await resp.write(b"data: " + orjson.dumps(tail) + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
        except asyncio.CancelledError:
            self.record.cancelled += 1
            raise
        await resp.write_eof()
        return resp

    async def embeddings(self, request: web.Request) -> web.Response:
        body, failure = await self._admit(request)
        if failure is not None:
            return failure
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            digest = hashlib.sha256(str(text).encode()).digest()
            data.append(
                {"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]}
            )
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
