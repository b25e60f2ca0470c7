"""Server-sent events decoded from bytes cut anywhere, with every line ending the spec allows."""

from __future__ import annotations

import pytest

from flightdeck.wire.sse import Event, IncompleteEvent, SSEDecoder, encode

STREAM = (
    b": keep-alive\n"
    b'event: message_start\ndata: {"a": "caf\xc3\xa9 \xf0\x9f\x91\x8d"}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"event: ping\nid: 7\nretry: 100\ndata:{}\n\n"
)
EXPECTED = [
    Event("message_start", '{"a": "café 👍"}'.encode()),
    Event(None, b"line one\nline two"),
    Event("ping", b"{}"),
]


def decode_in_pieces(raw: bytes, size: int) -> list[Event]:
    decoder = SSEDecoder()
    out = [e for i in range(0, len(raw), size) for e in decoder.feed(raw[i : i + size])]
    return out + decoder.close()


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
def test_events_survive_any_cut_and_any_line_ending(ending: bytes, size: int) -> None:
    raw = STREAM.replace(b"\n", ending)
    assert decode_in_pieces(raw, size) == EXPECTED


def test_stream_cut_in_the_middle_of_an_event_is_refused() -> None:
    decoder = SSEDecoder()
    decoder.feed(b'data: {"half":')
    with pytest.raises(IncompleteEvent):
        decoder.close()


def test_stream_missing_the_blank_line_after_the_last_event_is_refused() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: {}\n") == []
    with pytest.raises(IncompleteEvent):
        decoder.close()


def test_encode_names_the_event_and_frames_it() -> None:
    assert encode({"type": "ping"}, "ping") == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert encode({"a": 1}, crlf=True) == b'data: {"a":1}\r\n\r\n'
