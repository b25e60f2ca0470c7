"""An admitted chat stream: every event under the idle timeout and the usage meter, settled once.

Whichever plane serves it (the gateway forwards the events as they are, the assistant turns
them into its own events), a stream gets the same rules: an upstream that goes quiet for longer
than ``router.stream_idle_timeout_seconds`` ends it with ``UpstreamTimeout`` (code
``stream_idle_timeout``), a broken upstream with ``UpstreamError`` (code
``stream_interrupted``), and closing it releases the upstream connection and settles the
ticket with the metered usage and how the stream ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING

from flightdeck.calls.accounting import Accounting, StreamMeter, Ticket
from flightdeck.calls.router import OpenedStream, Routed
from flightdeck.core.errors import FlightdeckError, UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    from flightdeck.calls.cached import StreamRecording

CLIENT_GONE = "client_gone"  # how a stream closed before its end, without an error, ended


class ModelStream:
    """Server-sent events of one routed chat stream, each a complete ``data: ...`` block.

    Iterate it once (``async for event in stream``), then ``aclose()`` it, or use it as an
    ``async with`` block, which closes it and names the error that left the block, if any.
    """

    def __init__(
        self,
        routed: Routed[OpenedStream],
        ticket: Ticket,
        accounting: Accounting,
        *,
        idle_timeout: float,
        trace_id: str | None = None,
        recording: StreamRecording | None = None,
    ) -> None:
        self.routed = routed
        self.ticket = ticket
        self.idle_timeout = idle_timeout
        self.meter = StreamMeter()
        self.ttft_ms = (time.perf_counter() - ticket.started) * 1000
        self.outcome: str | None = CLIENT_GONE  # None once the upstream ended the stream well
        self._accounting = accounting
        self._trace_id = trace_id
        self._closed = False
        self._recording = recording  # the response cache records this stream (a miss)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events()

    async def _events(self) -> AsyncIterator[bytes]:
        opened = self.routed.value
        event: bytes | None = opened.first_event
        while True:
            assert event is not None
            self.meter.see(event)
            if self._recording is not None:
                event = await self._recording.see(event)
            if event is not None:
                yield event
            try:
                async with asyncio.timeout(self.idle_timeout):
                    event = await anext(opened.events)
            except StopAsyncIteration:
                self.outcome = None
                return
            except TimeoutError:
                self.outcome = "stream_idle_timeout"
                message = f"upstream sent nothing for {self.idle_timeout:.3g}s; stream aborted"
                raise UpstreamTimeout(message, code=self.outcome) from None
            except UpstreamError as exc:
                self.outcome = "stream_interrupted"
                raise UpstreamError(exc.message, code=self.outcome) from exc

    async def aclose(self, error: BaseException | None = None) -> None:
        """Release the upstream and settle the ticket (once; later calls do nothing).

        ``error`` is what stopped the reader, if anything: a ``FlightdeckError`` names the
        outcome recorded in the ledger unless the stream itself already failed or ended.
        """
        if self._closed:
            return
        self._closed = True
        if isinstance(error, FlightdeckError) and self.outcome == CLIENT_GONE:
            self.outcome = error.type
        await self.routed.value.stream.aclose()
        await self._accounting.settle(
            self.ticket,
            status=200,
            usage=self.meter.settled_usage(self.ticket.prompt_tokens),
            deployment=self.routed.deployment_id,
            ttft_ms=self.ttft_ms,
            error_type=self.outcome,
            trace_id=self._trace_id,
        )

    async def __aenter__(self) -> ModelStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(exc)
