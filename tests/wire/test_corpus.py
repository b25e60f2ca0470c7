"""Every corpus stream replayed through every translation, checked against an independent reader.

For a stream in format S: decode it (whole, and cut at random byte offsets), translate it to
chat chunks, then from chat to every format T (chat, Anthropic, Gemini, Responses), and back
from T to chat. At each step the reassembled text, thinking, tool-call ids, names and argument
JSON must equal the source's byte for byte, and usage must add up to the source's. What a format
has no place for is dropped only where documented, and then counted.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
import pytest

from flightdeck.core.errors import UpstreamError
from flightdeck.wire import (
    AnthropicToChat,
    ChatToAnthropic,
    ChatToGemini,
    ChatToResponses,
    GeminiToChat,
    Notes,
    ResponsesToChat,
    SSEDecoder,
    assemble,
    sse,
)
from tests.wire.corpus import FORMATS, split_randomly, streams
from tests.wire.readers import READERS, Call, Truth, read_chat

TO_CHAT: dict[str, Any] = {
    "anthropic": AnthropicToChat,
    "gemini": GeminiToChat,
    "responses": ResponsesToChat,
}
STREAMS = [(fmt, name, raw) for fmt in FORMATS for name, raw in streams(fmt)]


class ChatOut:
    """The chat format as a translation target: chunks pass as they are."""

    def feed(self, chunk: dict[str, Any]) -> list[Any]:
        return [chunk]

    def finish(self) -> list[Any]:
        return ["[DONE]"]

    def fail(self, message: str, status: int) -> list[Any]:
        return [
            {"error": {"message": message, "type": "upstream_error", "code": "stream_interrupted"}}
        ]

    def encode(self, event: Any) -> bytes:
        return b"data: [DONE]\n\n" if event == "[DONE]" else sse.encode(event)


def target(fmt: str, notes: Notes) -> Any:
    if fmt == "anthropic":
        return ChatToAnthropic(model="claude-test", notes=notes)
    if fmt == "gemini":
        return ChatToGemini(model="gemini-test", notes=notes)
    if fmt == "responses":
        return ChatToResponses({"model": "gpt-test"}, notes=notes)
    return ChatOut()


def decode(chunks: list[bytes]) -> list[Any]:
    decoder = SSEDecoder()
    out = [e for chunk in chunks for e in decoder.feed(chunk)]
    decoder.close()
    return ["[DONE]" if e.data == b"[DONE]" else orjson.loads(e.data) for e in out]


def to_chat(fmt: str, chunks: list[bytes]) -> tuple[list[dict[str, Any]], str | None]:
    """Chat chunks of a stream, and the error message it ended with (if any)."""
    evs = decode(chunks)
    if fmt == "chat":
        out = []
        for ev in evs:
            if ev == "[DONE]":
                break
            if "error" in ev:
                return out, ev["error"]["message"]
            out.append(ev)
        return out, None
    translator = TO_CHAT[fmt](include_usage=True)
    out = []
    try:
        for ev in evs:
            out += translator.feed(ev)
        out += translator.finish()
    except UpstreamError as exc:
        return out, exc.message
    return out, None


def from_chat(fmt: str, chunks: list[dict[str, Any]], error: str | None, notes: Notes) -> bytes:
    translator = target(fmt, notes)
    out = []
    for chunk in chunks:
        out += translator.feed(chunk)
    out += translator.fail(error, 502) if error else translator.finish()
    return b"".join(translator.encode(e) for e in out)


def chat_bytes(chunks: list[dict[str, Any]], error: str | None) -> bytes:
    return from_chat("chat", chunks, error, Notes())


def assert_carried(src: Truth, got: Truth, *, source: str, via: set[str], where: str) -> None:
    """``got`` carries what ``src`` said, given the formats ``via`` it passed through."""
    assert got.text == src.text, where
    assert got.reasoning == src.reasoning, where
    if src.error is not None:
        assert got.error is not None and src.error in got.error, where
    else:
        assert got.error is None, (where, got.error)
        assert got.finish == src.finish, where
    if "gemini" in via:  # Gemini has no place for Anthropic signatures or redacted thinking
        assert (got.signatures, got.redacted) == ([], []), where
    else:
        assert (got.signatures, got.redacted) == (src.signatures, src.redacted), where
    if via & {"anthropic", "responses"}:  # no place for Gemini thought signatures
        assert got.google_signatures == [], where
    else:
        assert sorted(got.google_signatures) == sorted(src.google_signatures), where
    assert [c.name for c in got.calls] == [c.name for c in src.calls], where
    for mine, theirs in zip(got.calls, src.calls, strict=True):
        assert mine.id == theirs.id if theirs.id else mine.id, where
        if "gemini" in via or source == "gemini":  # Gemini carries arguments as JSON objects
            assert json.loads(mine.arguments) == json.loads(theirs.arguments), where
        else:
            assert mine.arguments == theirs.arguments, where
    want = src.usage
    if "gemini" in via:  # Gemini reports no cache writes
        want = (want[0], want[1], want[2], 0, want[4])
    if src.error is None:
        assert got.usage == want, where
    prompt, completion, cached, write, reasoning = got.usage
    assert prompt >= cached + write and completion >= reasoning, where


def without_made_up_ids(truth: Truth, src: Truth) -> Truth:
    """The truth with the tool-call ids blanked that the source did not have (Gemini's are
    optional, and made up when missing)."""
    calls = [
        Call("" if not theirs.id else mine.id, mine.name, mine.arguments)
        for mine, theirs in zip(truth.calls, src.calls, strict=True)
    ]
    return dataclasses.replace(truth, calls=calls)


def dropped(src: Truth, fmt: str) -> int:
    if fmt == "gemini":
        return len(src.signatures) + len(src.redacted)
    if fmt in ("anthropic", "responses"):
        return len(src.google_signatures)
    return 0


@pytest.mark.parametrize(("fmt", "name", "raw"), STREAMS, ids=[s[1] for s in STREAMS])
def test_stream_survives_every_translation(fmt: str, name: str, raw: bytes) -> None:
    src = READERS[fmt](raw)
    chunks, error = to_chat(fmt, [raw])
    internal = read_chat(chat_bytes(chunks, error))
    cut = read_chat(chat_bytes(*to_chat(fmt, split_randomly(raw, seed=len(raw)))))
    assert without_made_up_ids(cut, src) == without_made_up_ids(internal, src), "byte splits"
    assert_carried(src, internal, source=fmt, via=set(), where=f"{name} -> chat")
    if error is None:
        done = assemble(chunks)["choices"][0]
        assert (done["message"]["content"] or "") == src.text
        assert [c["function"]["arguments"] for c in done["message"].get("tool_calls", [])] == [
            c.arguments for c in internal.calls
        ]
    for out_fmt in FORMATS:
        notes = Notes()
        raw_out = from_chat(out_fmt, chunks, error, notes)
        via = {out_fmt}
        got = READERS[out_fmt](raw_out)
        assert_carried(src, got, source=fmt, via=via, where=f"{name} -> {out_fmt}")
        assert notes.dropped_thinking == dropped(src, out_fmt), f"{name} -> {out_fmt}: dropped"
        back, back_error = to_chat(out_fmt, split_randomly(raw_out, seed=7))
        again = read_chat(chat_bytes(back, back_error))
        assert_carried(src, again, source=fmt, via=via, where=f"{name} -> {out_fmt} -> chat")


def test_corpus_has_at_least_fifty_streams_per_format() -> None:
    for fmt in FORMATS:
        assert sum(1 for s in STREAMS if s[0] == fmt) >= 50, fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_variants_mean_the_same_as_the_stream_they_came_from(fmt: str) -> None:
    by_file: dict[str, list[Truth]] = {}
    for f, name, raw in STREAMS:
        if f == fmt:
            by_file.setdefault(name.rsplit("/", 1)[0], []).append(READERS[fmt](raw))
    for name, truths in by_file.items():
        assert all(t == truths[0] for t in truths), name
