"""One cached answer, in the form it was written: a ``chat.completion`` reply, or the
``chat.completion.chunk`` events of a stream (plus its usage, kept apart from the chunks).

Either form serves either kind of request (``flightdeck.cache.streams``): a stream-written
entry is assembled into a reply, a reply-written one is split into a short stream. Only the
answer is stored, never the prompt: the key is a hash of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from flightdeck.cache.streams import assemble_reply, completion_id, split_reply, sse_events

FORMAT_VERSION = 1


class EntryFormatError(ValueError):
    """Stored bytes that are not a cache entry of this version (they are skipped, a miss)."""


@dataclass(slots=True)
class CacheEntry:
    """A cached answer. ``reply`` is set for a reply-written entry, ``chunks`` for a
    stream-written one; ``usage`` is the OpenAI ``usage`` object of the call when known."""

    reply: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    written_at: float = 0.0

    def __post_init__(self) -> None:
        if (self.reply is None) == (self.chunks is None):
            raise ValueError("a cache entry holds either a reply or stream chunks")

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "v": FORMAT_VERSION,
                "reply": self.reply,
                "chunks": self.chunks,
                "usage": self.usage,
                "written_at": self.written_at,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        """Raises EntryFormatError for bytes of another version or shape."""
        try:
            raw = orjson.loads(data)
            if not isinstance(raw, dict) or raw.get("v") != FORMAT_VERSION:
                raise EntryFormatError("not a cache entry of this version")
            return cls(raw["reply"], raw["chunks"], raw["usage"], float(raw["written_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EntryFormatError(str(exc)) from None

    def completion(self, *, now: int) -> dict[str, Any]:
        """The answer as a ``chat.completion`` object with a fresh id, created at ``now``
        (Unix seconds)."""
        if self.reply is not None:
            reply = dict(self.reply)
        else:
            assert self.chunks is not None
            reply = assemble_reply(self.chunks)
        if self.usage is not None:
            reply["usage"] = self.usage
        reply["id"] = completion_id()
        reply["created"] = now
        return reply

    def events(self, *, now: int, include_usage: bool) -> list[bytes]:
        """The answer as server-sent events, ``data: [DONE]`` included: the stored chunks
        (or the reply split into chunks) with one fresh id, and the usage chunk when
        ``include_usage`` (``stream_options.include_usage``) and the usage is known."""
        chunks = self.chunks if self.chunks is not None else split_reply(self.reply or {})
        usage = self.usage if include_usage else None
        return sse_events(chunks, completion_id(), now, usage, include_usage)
