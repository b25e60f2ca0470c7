"""Server-sent events (WHATWG HTML, "Server-sent events" section) read from and written to bytes.

The decoder takes transport chunks as they arrive, split anywhere (in the middle of a line or
of a UTF-8 sequence: bytes are only decoded once an event is complete, and no UTF-8 sequence
contains a line-feed byte). Lines end with LF, CRLF or CR; ``:`` lines are comments; several
``data:`` lines join with a line feed.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class Event:
    """One event: its ``event:`` name (None when it had none) and its ``data`` bytes."""

    name: str | None
    data: bytes


class IncompleteEvent(Exception):
    """The stream ended in the middle of an event."""


class SSEDecoder:
    """Bytes in, complete events out: ``decoder.feed(chunk) -> [Event, ...]``, then ``close()``."""

    def __init__(self) -> None:
        self._pending = b""
        self._name: str | None = None
        self._data: list[bytes] = []
        self._seen_field = False

    def feed(self, chunk: bytes) -> list[Event]:
        """Events completed by ``chunk`` (a blank line ends an event)."""
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            # CR and CRLF both end a line; a CR at the very end may be half of a CRLF.
            keep_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                data = data[:-1]
        else:
            keep_cr = False
        events: list[Event] = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._line(data[start:end], events)
            start = end + 1
        self._pending = data[start:] + (b"\r" if keep_cr else b"")
        return events

    def close(self) -> list[Event]:
        """At the end of the stream: raises IncompleteEvent if an event was cut off."""
        events: list[Event] = []
        if self._pending.endswith(b"\r"):  # a held-back CR: no LF can follow it any more
            self._line(self._pending[:-1], events)
            self._pending = b""
        if self._pending:
            raise IncompleteEvent("the stream ended in the middle of an event")
        if self._seen_field:
            raise IncompleteEvent("the stream ended before the blank line ending an event")
        return events

    def _line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            if self._data:
                events.append(Event(self._name, b"\n".join(self._data)))
            self._name, self._data, self._seen_field = None, [], False
            return
        if line[0] == 58:  # b":" a comment (keep-alive)
            return
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        self._seen_field = True
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._name = value.decode("utf-8", "replace")
        # id: and retry: carry nothing a model stream needs


def encode(data: object, name: str | None = None, *, crlf: bool = False) -> bytes:
    """One event as bytes: ``event: NAME`` (when given) and one ``data:`` line of JSON."""
    body = orjson.dumps(data)
    end = b"\r\n" if crlf else b"\n"
    head = b"event: " + name.encode() + end if name else b""
    return head + b"data: " + body + end + end
