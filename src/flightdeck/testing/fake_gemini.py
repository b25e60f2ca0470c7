"""A fake Gemini ``generateContent`` upstream (Gemini API and Vertex AI paths) over HTTP.

Written from Google's API reference, independently of ``flightdeck.wire``: it checks the
credential and ``contents``, answers errors in Google's shape (``google.rpc.Status``), and
streams ``streamGenerateContent?alt=sse`` as CRLF-framed server-sent events, each a whole
``GenerateContentResponse`` with cumulative ``usageMetadata``. ``script()`` replays corpus
streams instead.

Default reply: the last user text echoed (``echo: ...``); a ``functionCall`` of the first
declared function (with a thought signature, as Gemini 3 sends) when tools are offered;
``tool said: ...`` after a ``functionResponse``; thought parts first when
``thinkingConfig.includeThoughts`` is set.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from flightdeck.testing.fake_server import Behaviour, FakeServer, json_response, words

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
}
STATUS |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class FakeGemini(FakeServer):
    """``api_key``: the ``x-goog-api-key`` (or bearer token) to require (None: any)."""

    def __init__(self, behaviour: Behaviour | None = None, *, api_key: str | None = None) -> None:
        super().__init__(behaviour)
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta"

    @property
    def vertex_base_url(self) -> str:
        return (
            f"http://127.0.0.1:{self.port}/v1/projects/demo/locations/us-central1/publishers/google"
        )

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1beta/models/{call}", self.model_call)
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
            self.model_call,
        )
        return app

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {"code": status, "message": message, "status": STATUS.get(status, "INTERNAL")}
        }

    def refuse(self, status: int, message: str) -> web.Response:
        return json_response(self.error_body(status, message), status)

    def authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return self.api_key in (request.headers.get("x-goog-api-key"), bearer)

    async def model_call(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["call"].partition(":")
        body, failure = await self.admit(request)
        if failure is not None:
            return failure
        if not self.authorized(request):
            return self.refuse(401, "API key not valid. Please pass a valid API key.")
        if action == "countTokens":
            inner = body.get("generateContentRequest") or body
            return json_response({"totalTokens": self.prompt_tokens(inner)})
        if action not in ("generateContent", "streamGenerateContent"):
            return self.refuse(404, f"unknown method {action!r}")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return self.refuse(400, "* GenerateContentRequest.contents: contents is not specified")
        parts = self.reply_parts(body)
        if action == "generateContent":
            return json_response(self.response(model, parts, body, finish=True))
        if request.query.get("alt") != "sse":
            return self.refuse(400, "this fake streams only with alt=sse")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await self.write_events(request, resp, self.stream_events(model, parts, body))
        return resp

    @staticmethod
    def prompt_tokens(body: dict[str, Any]) -> int:
        texts = [
            str(p.get("text", "")) for c in body.get("contents") or [] for p in c.get("parts") or []
        ]
        system = (body.get("systemInstruction") or {}).get("parts") or []
        texts += [str(p.get("text", "")) for p in system]
        return sum(len(t.split()) for t in texts) + 2 * len(body.get("contents") or [])

    def reply_parts(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        last = body["contents"][-1].get("parts") or []
        text = " ".join(str(p["text"]) for p in last if "text" in p)
        parts: list[dict[str, Any]] = []
        thinking = ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get(
            "includeThoughts"
        )
        if thinking:
            parts.append({"text": f"Thinking about: {text}", "thought": True})
        responses = [p["functionResponse"] for p in last if "functionResponse" in p]
        declarations = [
            d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []
        ]
        mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
        if responses:
            parts.append(
                {"text": f"tool said: {orjson.dumps(responses[0].get('response')).decode()}"}
            )
        elif declarations and mode != "NONE":
            call = {"name": declarations[0]["name"], "args": {"query": text}}
            parts.append({"functionCall": call, "thoughtSignature": "c2lnLWZha2UtMDE="})
        else:
            parts.append({"text": f"echo: {text}"})
        return parts

    def response(
        self, model: str, parts: list[dict[str, Any]], body: dict[str, Any], *, finish: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = "STOP"
        out_words = sum(
            len(str(p.get("text", p.get("functionCall")))) // 4 + 1
            for p in parts
            if not p.get("thought")
        )
        thoughts = sum(len(str(p.get("text", ""))) // 4 + 1 for p in parts if p.get("thought"))
        prompt = self.prompt_tokens(body)
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": out_words,
            "totalTokenCount": prompt + out_words + thoughts,
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": "fake-resp-01",
        }

    def stream_events(
        self, model: str, parts: list[dict[str, Any]], body: dict[str, Any]
    ) -> list[bytes]:
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part and not part.get("thoughtSignature"):
                pieces += [
                    {**part, "text": w} for w in words(part["text"], self.behaviour.stream_chunks)
                ]
            else:
                pieces.append(part)
        out = []
        for i, piece in enumerate(pieces):
            data = self.response(model, [piece], body, finish=i == len(pieces) - 1)
            out.append(b"data: " + orjson.dumps(data) + b"\r\n\r\n")
        return out
