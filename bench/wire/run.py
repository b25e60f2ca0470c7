"""Translation CPU next to plain passthrough, in one run.

    .venv/bin/python -m bench.wire.run [--repeat 7] [--json bench/results/wire.json]

Non-streaming, per request: what the gateway does with a chat request and its reply on each
path. Passthrough (an OpenAI-compatible upstream) serializes the request with the deployment's
model and forwards the reply's bytes untouched; the Anthropic and Gemini providers translate the
request, parse the vendor reply and build a chat completion; the inbound Messages and Responses
APIs translate the client's request to chat and the chat reply back. Streaming, per event: the
passthrough meter's look at each event, against decoding, translating and re-encoding it.

The request: a system prompt, six turns (an assistant tool call and its result among them),
three tools; the reply: ~700 characters of text and usage with cached tokens. The stream: 200
text deltas and a tool call in 20 argument fragments. CPU time (``process_time``), best of
``--repeat`` rounds, so other load on the machine inflates nothing but the spread.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from flightdeck.calls.accounting import StreamMeter
from flightdeck.providers import replies
from flightdeck.wire import sse
from flightdeck.wire.anthropic import (
    anthropic_to_chat_completion,
    anthropic_to_chat_request,
    chat_to_anthropic_message,
    chat_to_anthropic_request,
)
from flightdeck.wire.anthropic_stream import AnthropicToChat, ChatToAnthropic
from flightdeck.wire.gemini import chat_to_gemini_request, gemini_to_chat_completion
from flightdeck.wire.gemini_stream import GeminiToChat
from flightdeck.wire.responses import completion_to_response, responses_to_chat_request
from flightdeck.wire.responses_stream import ChatToResponses

TEXT = ("The quick brown fox jumps over the lazy dog; " * 16)[:700]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"tool_{i}",
            "description": "Looks things up in a catalogue of things.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
        },
    }
    for i in range(3)
]
CHAT_REQUEST: dict[str, Any] = {
    "model": "group",
    "messages": [
        {"role": "system", "content": "You are a careful assistant. " * 10},
        {"role": "user", "content": "Find me three books about the sea. " * 5},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "tool_0",
                        "arguments": '{"query": "sea books", "limit": 3}',
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps([{"title": "Moby-Dick"}] * 3),
        },
        {"role": "assistant", "content": TEXT[:300]},
        {"role": "user", "content": "And one about rivers?"},
    ],
    "tools": TOOLS,
    "max_tokens": 1024,
    "temperature": 0.5,
}
USAGE = {
    "prompt_tokens": 900,
    "completion_tokens": 160,
    "prompt_tokens_details": {"cached_tokens": 512},
}
CHAT_REPLY = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
        ],
        "usage": {**USAGE, "total_tokens": 1060},
    }
)
ANTHROPIC_REPLY = orjson.dumps(
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 388, "cache_read_input_tokens": 512, "output_tokens": 160},
    }
)
GEMINI_REPLY = orjson.dumps(
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {
            "promptTokenCount": 900,
            "cachedContentTokenCount": 512,
            "candidatesTokenCount": 160,
        },
        "modelVersion": "gemini",
    }
)


def passthrough() -> None:
    orjson.dumps({**CHAT_REQUEST, "model": "upstream-model"})
    bytes(CHAT_REPLY)  # the reply's bytes go to the client as they are


def passthrough_checked() -> None:
    orjson.dumps({**CHAT_REQUEST, "model": "upstream-model"})
    replies.json_reply(
        200, "application/json", CHAT_REPLY, replies.chat_completion, "a chat.completion"
    )


def anthropic_out() -> None:
    orjson.dumps(chat_to_anthropic_request(CHAT_REQUEST, model="claude"))
    orjson.dumps(anthropic_to_chat_completion(orjson.loads(ANTHROPIC_REPLY)))


def gemini_out() -> None:
    orjson.dumps(chat_to_gemini_request(CHAT_REQUEST))
    orjson.dumps(gemini_to_chat_completion(orjson.loads(GEMINI_REPLY)))


MESSAGES_REQUEST = orjson.dumps(chat_to_anthropic_request(CHAT_REQUEST, model="claude"))


def messages_in() -> None:
    orjson.dumps(anthropic_to_chat_request(orjson.loads(MESSAGES_REQUEST)))
    orjson.dumps(chat_to_anthropic_message(orjson.loads(CHAT_REPLY)))


RESPONSES_REQUEST = orjson.dumps(
    {
        "model": "group",
        "instructions": "You are a careful assistant. " * 10,
        "input": [
            {"role": "user", "content": "Find me three books about the sea. " * 5},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "tool_0",
                "arguments": '{"query": "sea"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "[]"},
            {"role": "user", "content": "And one about rivers?"},
        ],
        "tools": [{"type": "function", **t["function"]} for t in TOOLS],
    }
)


def responses_in() -> None:
    request = orjson.loads(RESPONSES_REQUEST)
    orjson.dumps(responses_to_chat_request(request))
    orjson.dumps(completion_to_response(orjson.loads(CHAT_REPLY), request))


# ---- streams --------------------------------------------------------------------------------


def anthropic_stream() -> list[bytes]:
    events = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 9}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " word"},
        }
        for _ in range(200)
    ]
    events.append({"type": "content_block_stop", "index": 0})
    tool = {"type": "tool_use", "id": "toolu_1", "name": "tool_0", "input": {}}
    events.append({"type": "content_block_start", "index": 1, "content_block": tool})
    events += [
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"q'[: i % 3 + 1]},
        }
        for i in range(20)
    ]
    events += [
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 230},
        },
        {"type": "message_stop"},
    ]
    return [sse.encode(e, e["type"]) for e in events]


def gemini_stream() -> list[bytes]:
    events = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": " word"}]}}],
            "usageMetadata": {"promptTokenCount": 9},
        }
        for _ in range(200)
    ]
    call = {"functionCall": {"name": "tool_0", "args": {"query": "rivers"}}}
    events.append(
        {"candidates": [{"content": {"role": "model", "parts": [call]}, "finishReason": "STOP"}]}
    )
    return [sse.encode(e, crlf=True) for e in events]


def chat_stream() -> list[bytes]:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": " word"} for _ in range(200)]
    deltas.append(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "tool_0", "arguments": ""},
                }
            ]
        }
    )
    deltas += [
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"q'[: i % 3 + 1]}}]}
        for i in range(20)
    ]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append(
        {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
            "usage": USAGE,
        }
    )
    return [sse.encode(c) for c in chunks]


def to_chat(events: list[bytes], make: Callable[[], Any]) -> Callable[[], int]:
    def run() -> int:
        decoder = sse.SSEDecoder()
        translator = make()
        n = 0
        for raw in events:
            for event in decoder.feed(raw):
                for out in translator.feed(orjson.loads(event.data)):
                    sse.encode(out)
                n += 1
        for out in translator.finish():
            sse.encode(out)
        return n

    return run


def from_chat(events: list[bytes], make: Callable[[], Any]) -> Callable[[], int]:
    def run() -> int:
        translator = make()
        for raw in events:
            for out in translator.feed(orjson.loads(raw[6:])):
                translator.encode(out)
        for out in translator.finish():
            translator.encode(out)
        return len(events)

    return run


def meter_only(events: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        meter = StreamMeter()
        for raw in events:
            meter.see(raw)
        return len(events)

    return run


def meter_and_check(events: list[bytes]) -> Callable[[], int]:
    """What the openai provider's stream does per event since #12.1: check it, then meter."""

    def run() -> int:
        meter = StreamMeter()
        for raw in events:
            data = raw[6:-2]
            if data != b"[DONE]":
                replies.event_data(data, replies.chat_chunk, "a chat.completion.chunk")
            meter.see(raw)
        return len(events)

    return run


def best_us(fn: Callable[[], Any], rounds: int, per: Callable[[Any], int] = lambda _: 1) -> float:
    """Best CPU microseconds per unit (a request, or an event) over ``rounds`` rounds."""
    n = 1
    while True:  # calibrate: ~0.2 s of CPU per round
        start = time.process_time()
        for _ in range(n):
            fn()
        if time.process_time() - start > 0.2:
            break
        n *= 2
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        units = sum(per(fn()) for _ in range(n))
        best = min(best, (time.process_time_ns() - start) / 1000 / units)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    count = int
    requests = {
        "passthrough (openai provider)": passthrough,
        "passthrough + reply check (openai provider since #12.1)": passthrough_checked,
        "anthropic provider (chat -> Messages -> chat)": anthropic_out,
        "gemini provider (chat -> generateContent -> chat)": gemini_out,
        "POST /v1/messages in (Messages -> chat -> Messages)": messages_in,
        "POST /v1/responses in (Responses -> chat -> Responses)": responses_in,
    }
    results: dict[str, Any] = {"per_request_us": {}, "per_event_us": {}}
    for name, fn in requests.items():
        results["per_request_us"][name] = round(best_us(fn, args.repeat), 2)
    base = results["per_request_us"]["passthrough (openai provider)"]
    print("non-streaming, CPU per request (us), and added over passthrough:")
    for name, us in results["per_request_us"].items():
        print(f"  {name:58s} {us:8.2f}   +{us - base:7.2f}")
    chat_events, anthropic_events, gemini_events = (
        chat_stream(),
        anthropic_stream(),
        gemini_stream(),
    )
    streams = {
        "passthrough (meter only)": meter_only(chat_events),
        "passthrough + event check (openai provider since #12.1)": meter_and_check(chat_events),
        "anthropic -> chat (provider)": to_chat(anthropic_events, AnthropicToChat),
        "gemini -> chat (provider)": to_chat(gemini_events, GeminiToChat),
        "chat -> anthropic (inbound Messages)": from_chat(
            chat_events, lambda: ChatToAnthropic(model="m")
        ),
        "chat -> responses (inbound Responses)": from_chat(
            chat_events, lambda: ChatToResponses({"model": "m"})
        ),
    }
    for name, fn in streams.items():
        results["per_event_us"][name] = round(best_us(fn, args.repeat, per=count), 2)
    print("streaming, CPU per upstream event (us):")
    for name, us in results["per_event_us"].items():
        print(f"  {name:58s} {us:8.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
