"""Entries replay streams event for event, and serve either form from either form."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flightdeck.cache import CacheEntry, StreamRecorder, assemble_reply, split_reply
from flightdeck.cache.entry import EntryFormatError

BASE = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "m"}
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> dict[str, Any]:
    return {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}


TEXT_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Paris "}),
    chunk({"content": "is the "}),
    chunk({"content": "capital."}),
    chunk({}, "stop"),
]
TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
    chunk({}, "tool_calls"),
]


def record(chunks: list[dict[str, Any]], usage: bool = True) -> StreamRecorder:
    recorder = StreamRecorder()
    for c in chunks:
        recorder.see(event({**c, "usage": None} if usage else c))
    if usage:
        recorder.see(event({**BASE, "choices": [], "usage": USAGE}))
    recorder.see(b"data: [DONE]\n\n")
    return recorder


def parse(events: list[bytes]) -> list[dict[str, Any]]:
    assert events[-1] == b"data: [DONE]\n\n"
    return [orjson.loads(e[6:]) for e in events[:-1]]


def without_ids(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k not in ("id", "created", "usage")} for c in chunks]


@pytest.mark.parametrize("stream", [TEXT_STREAM, TOOL_STREAM], ids=["text", "tool_calls"])
def test_replay_is_the_recorded_stream_event_for_event_with_a_fresh_id(
    stream: list[dict[str, Any]],
) -> None:
    recorder = record(stream)
    entry = CacheEntry(chunks=recorder.chunks, usage=recorder.usage)
    replayed = parse(entry.events(now=50, include_usage=False))
    assert without_ids(replayed) == without_ids(stream)
    ids = {c["id"] for c in replayed}
    assert len(ids) == 1 and ids != {"chatcmpl-up"} and next(iter(ids)).startswith("chatcmpl-")
    assert {c["created"] for c in replayed} == {50}
    assert all("usage" not in c for c in replayed)
    again = parse(entry.events(now=50, include_usage=False))
    assert again[0]["id"] != replayed[0]["id"]


def test_replay_carries_usage_as_openai_does_when_asked() -> None:
    recorder = record(TEXT_STREAM)
    entry = CacheEntry(chunks=recorder.chunks, usage=recorder.usage)
    replayed = parse(entry.events(now=1, include_usage=True))
    assert len(replayed) == len(TEXT_STREAM) + 1
    assert all(c["usage"] is None for c in replayed[:-1])
    assert replayed[-1]["choices"] == [] and replayed[-1]["usage"] == USAGE


def test_stream_entry_serves_a_reply_assembled_from_its_chunks() -> None:
    for stream, message, finish in [
        (TEXT_STREAM, {"role": "assistant", "content": "Paris is the capital."}, "stop"),
        (
            TOOL_STREAM,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "tool_calls",
        ),
    ]:
        recorder = record(stream)
        entry = CacheEntry(chunks=recorder.chunks, usage=recorder.usage)
        reply = entry.completion(now=7)
        assert reply["object"] == "chat.completion" and reply["created"] == 7
        assert reply["choices"] == [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ]
        assert reply["usage"] == USAGE


def test_reply_entry_serves_a_stream_that_assembles_back_to_the_reply() -> None:
    reply = {
        "object": "chat.completion",
        "model": "m",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A"},
                "finish_reason": "stop",
                "logprobs": None,
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": "B"},
                "finish_reason": "stop",
                "logprobs": None,
            },
        ],
    }
    entry = CacheEntry(reply=reply, usage=USAGE)
    chunks = parse(entry.events(now=3, include_usage=True))
    assert chunks[-1]["usage"] == USAGE
    body = chunks[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in body)
    assert assemble_reply(body)["choices"] == reply["choices"]
    assert assemble_reply(split_reply(reply))["system_fingerprint"] == "fp_1"


@pytest.mark.parametrize(
    "events",
    [
        [event(TEXT_STREAM[0]), event(TEXT_STREAM[1])],  # no [DONE]: cut short
        [
            event(TEXT_STREAM[0]),
            b'data: {"error": {"message": "upstream sent nothing", "code": "x"}}\n\n',
            b"data: [DONE]\n\n",
        ],
        [event(TEXT_STREAM[0]), b"data: {not json\n\n", b"data: [DONE]\n\n"],
        [b"data: [DONE]\n\n"],
        [event(TEXT_STREAM[0]), b"data: [DONE]\n\n", event(TEXT_STREAM[1])],
    ],
    ids=["cut-short", "error-event", "bad-json", "empty", "after-done"],
)
def test_incomplete_or_broken_streams_are_not_worth_storing(events: list[bytes]) -> None:
    recorder = StreamRecorder()
    for e in events:
        recorder.see(e)
    assert not recorder.complete


def test_entry_round_trips_through_bytes_and_refuses_other_versions() -> None:
    entry = CacheEntry(chunks=TEXT_STREAM, usage=USAGE, written_at=5.0)
    assert CacheEntry.from_bytes(entry.to_bytes()) == entry
    for data in [b"{}", b'{"v": 99}', b"nope", b'{"v": 1, "reply": null}']:
        with pytest.raises(EntryFormatError):
            CacheEntry.from_bytes(data)
