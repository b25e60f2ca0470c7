"""The response cache on the model-call path: look up before admission, replay a hit, record
a miss (``flightdeck.cache`` is the service; ``ModelCalls`` calls what is here).

A cache that fails (a backend error, an encoder error) costs a miss, never the request: every
call into it goes through ``quietly``, which logs the error's type and nothing of the request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import orjson

from flightdeck.cache import CachePlan, ResponseCache, StreamRecorder
from flightdeck.calls.accounting import Accounting, Ticket
from flightdeck.calls.router import OpenedStream, Routed
from flightdeck.calls.streams import CLIENT_GONE, ModelStream
from flightdeck.core.errors import FlightdeckError
from flightdeck.providers.base import ChatStream

T = TypeVar("T")
log = logging.getLogger(__name__)
DONE = b"data: [DONE]"


async def quietly(step: Awaitable[T], default: T, what: str) -> T:
    """``step``'s result, or ``default`` when the cache failed (logged: the error type only;
    never a key, a prompt or an answer)."""
    try:
        return await step
    except FlightdeckError as exc:
        if exc.status < 500:
            raise
        log.warning("response cache: %s failed (%s); served without it", what, type(exc).__name__)
    except Exception as exc:
        log.warning("response cache: %s failed (%s); served without it", what, type(exc).__name__)
    return default


def asking_for_usage(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` asking the upstream for the usage chunk (``stream_options.include_usage``): an
    entry keeps the usage of the call that wrote it, which is what a later hit saves."""
    options = body.get("stream_options")
    merged = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return {**body, "stream_options": merged}


def without_usage(event: bytes) -> bytes | None:
    """``event`` as a client that did not ask for usage gets it: the usage-only last chunk
    dropped (None), ``"usage": null`` taken off the others."""
    if b'"usage"' not in event or not event.startswith(b"data: {"):
        return event
    try:
        chunk = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return event
    if not isinstance(chunk, dict):
        return event
    usage = chunk.pop("usage", None)
    if usage is not None and not chunk.get("choices"):
        return None
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class StreamRecording:
    """What a recorded miss does per event: the recorder sees it, the entry is stored before
    the client hears ``[DONE]`` (so its next request can hit), and the usage the client did not
    ask for is taken out again."""

    def __init__(
        self, cache: ResponseCache, plan: CachePlan, recorder: StreamRecorder, strip_usage: bool
    ) -> None:
        self.cache = cache
        self.plan = plan
        self.recorder = recorder
        self.strip_usage = strip_usage

    async def see(self, event: bytes) -> bytes | None:
        """The event to send on (None: send nothing)."""
        self.recorder.see(event)
        if event.startswith(DONE) and self.recorder.complete:
            await quietly(self.cache.store_stream(self.plan, self.recorder), False, "store")
        return without_usage(event) if self.strip_usage else event


class ReplayChatStream(ChatStream):
    """A cache entry's events in place of an upstream connection."""

    def __init__(self, events: list[bytes]) -> None:
        self._events = events

    async def events(self) -> AsyncIterator[bytes]:
        for event in self._events:
            yield event


class ReplayedStream(ModelStream):
    """A cache hit served as a stream: the entry's events, as fast as the client reads them,
    settled as a hit (no tokens, zero cost, the saved cost) when closed."""

    def __init__(
        self,
        events: list[bytes],
        model_group: str,
        ticket: Ticket,
        accounting: Accounting,
        *,
        saved_usage: dict[str, Any] | None,
        trace_id: str | None = None,
    ) -> None:
        replay = ReplayChatStream(events[1:])
        opened = OpenedStream(replay, aiter(replay), events[0])
        super().__init__(
            Routed(opened, model_group, None, 0),
            ticket,
            accounting,
            idle_timeout=60.0,  # nothing to wait for: the events are in memory
            trace_id=trace_id,
        )
        self.saved_usage = saved_usage
        self._replay = events

    async def _events(self) -> AsyncIterator[bytes]:
        for event in self._replay:  # in memory: no idle timeout, nothing to meter
            yield event
        self.outcome = None

    async def aclose(self, error: BaseException | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        if isinstance(error, FlightdeckError) and self.outcome == CLIENT_GONE:
            self.outcome = error.type
        await self._accounting.settle_hit(
            self.ticket,
            saved_usage=self.saved_usage,
            error_type=self.outcome,
            trace_id=self._trace_id,
        )
