"""The request path's telemetry queue (``telemetry/batch.py``): queued on the event loop and
run in order, by its timer, its size or a reader; at once outside a loop; a failing call
logged without losing the rest; a flush from another thread run on the loop's; and what a
request's queued end records (times) taken when the request ended, not when the queue ran."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import threading
import time
from datetime import datetime

import openai
import pytest
from opentelemetry.trace import SpanKind
from prometheus_client import generate_latest

from flightdeck.telemetry import logs
from flightdeck.telemetry.batch import Batch, FlushingRegistry, _run_left
from flightdeck.telemetry.logs import LOGGER
from flightdeck.telemetry.loop_metrics import LoopCounter
from flightdeck.testing import FakeUpstream
from tests.conftest import MakeSettings
from tests.telemetry.conftest import Record


def test_outside_a_running_loop_a_call_runs_at_once() -> None:
    ran: list[int] = []
    Batch().add(ran.append, 1)
    assert ran == [1]


def test_calls_wait_for_the_timer_and_run_in_order() -> None:
    ran: list[int] = []
    batch = Batch(seconds=0.05)

    async def main() -> list[int]:
        for i in range(5):
            batch.add(ran.append, i)
        assert ran == []  # queued, not run
        await asyncio.sleep(0.2)
        return list(ran)

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert batch.pending == []


def test_a_full_queue_runs_right_after_the_call_that_filled_it() -> None:
    ran: list[int] = []
    batch = Batch(seconds=60, items=3)

    async def main() -> None:
        batch.add(ran.append, 1)
        batch.add(ran.append, 2)
        batch.add(ran.append, 3)
        assert ran == []  # not inside the request that filled it
        await asyncio.sleep(0)
        assert ran == [1, 2, 3]

    asyncio.run(main())


def test_queued_calls_run_outside_the_context_that_queued_them() -> None:
    """The timer is armed inside some request: its contextvars (the request's info, its
    current span) must not be what the whole batch's calls, and log handlers, see."""
    request: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)
    seen: list[str | None] = []
    batch = Batch(seconds=0.05, items=2)

    async def one(name: str) -> None:
        request.set(name)
        batch.add(lambda: seen.append(request.get()))

    async def main() -> None:
        await asyncio.create_task(one("first"))  # arms the timer
        await asyncio.create_task(one("second"))  # fills the queue
        await asyncio.sleep(0.01)
        await asyncio.create_task(one("third"))  # the timer's run
        await asyncio.sleep(0.2)
        await asyncio.create_task(one("fourth"))
        await asyncio.to_thread(batch.flush)  # a scraper's thread

    asyncio.run(main())
    assert seen == [None, None, None, None]


def test_after_runs_once_per_flush_that_ran_something() -> None:
    events: list[str] = []
    batch = Batch(seconds=60, after=lambda: events.append("after"))

    async def main() -> None:
        batch.add(events.append, "a")
        batch.add(events.append, "b")
        batch.flush()
        batch.flush()  # nothing queued: no after

    asyncio.run(main())
    assert events == ["a", "b", "after"]


def test_a_failing_call_is_logged_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[int] = []
    batch = Batch(seconds=60)

    def broken(_: int) -> None:
        raise ValueError("boom")

    async def main() -> None:
        batch.add(ran.append, 1)
        batch.add(broken, 2)
        batch.add(ran.append, 3)
        batch.flush()

    with caplog.at_level(logging.ERROR, logger="flightdeck.telemetry.batch"):
        asyncio.run(main())
    assert ran == [1, 3]
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_flush_from_another_thread_runs_on_the_loop_and_is_waited_for() -> None:
    batch = Batch(seconds=60)
    threads: list[int] = []

    def reader() -> int:
        batch.flush()  # returns once the loop ran the queue
        return len(threads)

    async def main() -> int:
        for _ in range(3):
            batch.add(lambda: threads.append(threading.get_ident()))
        assert await asyncio.to_thread(reader) == 3
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert threads == [loop_thread] * 3


def test_work_left_when_a_loop_closed_runs_at_the_next_flush_or_at_exit() -> None:
    ran: list[str] = []
    batch, other = Batch(seconds=30), Batch(seconds=30)

    async def queue(what: str) -> None:
        batch.add(ran.append, what)
        other.add(ran.append, "other " + what)

    asyncio.run(queue("first"))  # its loop closed with the timer pending
    batch.flush()  # no loop runs: here
    assert ran == ["first"]
    _run_left()  # what the process runs at exit
    assert ran == ["first", "other first"]


def test_a_new_loop_gets_its_own_timer() -> None:
    """A loop that closed with its timer pending (tests, restarts) leaves a dead timer: the
    next loop's calls still run on a timer of their own."""
    ran: list[str] = []
    batch = Batch(seconds=0.05)

    async def queue(what: str, wait: float) -> None:
        batch.add(ran.append, what)
        await asyncio.sleep(wait)

    asyncio.run(queue("first", 0))  # closes before its timer fires
    asyncio.run(queue("second", 0.2))
    assert ran == ["first", "second"]


def test_a_scrape_reads_what_was_queued_before_it_filtered_or_not() -> None:
    batch = Batch(seconds=60)
    registry = FlushingRegistry(batch.flush)
    counter = LoopCounter("queued", "Queued increments.", ["kind"], registry=registry)
    LoopCounter("other", "Another metric.", registry=registry)

    async def main() -> tuple[bytes, bytes]:
        for _ in range(4):
            batch.add(counter.labels("a").inc)
        whole = await asyncio.to_thread(generate_latest, registry)  # a scraper's thread
        batch.add(counter.labels("a").inc)
        restricted = registry.restricted_registry(["queued_total"])  # ?name[]=queued_total
        filtered = await asyncio.to_thread(generate_latest, restricted)
        return whole, filtered

    whole, filtered = asyncio.run(main())
    assert b'queued_total{kind="a"} 4.0' in whole
    assert b'queued_total{kind="a"} 5.0' in filtered and b"other" not in filtered


def test_a_requests_line_and_spans_carry_when_it_ended_not_when_the_queue_ran(
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    recorded: Record,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = recorded(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    # after the server: its logs setup set INFO, which caplog then restores at teardown
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec.telemetry.flush()  # nothing queued (no timer armed) before the request
    rec.telemetry.batch.seconds = 1.0  # the queue runs a second after the request's first call
    client = openai.OpenAI(
        base_url=rec.server.url + "/v1", api_key=rec.server.api_key, max_retries=0
    )
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    spans = rec.finished()
    exported_ns = time.time_ns()  # the queue has run: the spans reached the exporter
    rec.telemetry.flush()  # waits for the loop: the line written after the spans
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    attempt = next(s for s in spans if s.kind is SpanKind.CLIENT)
    assert server.end_time is not None and attempt.end_time is not None
    assert attempt.end_time <= server.end_time
    assert exported_ns - server.end_time > 0.5e9  # ended with the request, not with the queue
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER]
    stamp = datetime.fromisoformat(lines[-1]["time"].replace("Z", "+00:00"))
    assert round(stamp.timestamp() * 1000) == server.end_time // 1_000_000  # the same moment


def test_direct_request_lines_are_written_by_the_batch_run_that_made_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under ``flightdeck serve`` (only Flightdeck's handler, no propagation) lines wait in
    ``logs``' buffer and the batch's ``after`` writes them: once per run, none before it; with
    no loop running, a line is written at once."""
    logs.configure_request_logs()
    handler = logs._LINES.handler
    assert handler is not None
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setattr(logs.log, "propagate", False)
    monkeypatch.setattr(logs.log, "handlers", [handler])
    monkeypatch.setattr(logs.log, "level", logging.INFO)
    assert logs._LINES.direct()
    batch = Batch(seconds=0.05, after=logs.flush)

    def line(status: int) -> None:
        logs.emit({"time": None, "route": "/v1/x", "status": status})

    async def main() -> tuple[str, str]:
        batch.add(line, 200)
        batch.add(line, 201)
        before = stream.getvalue()
        await asyncio.sleep(0.2)
        return before, stream.getvalue()

    before, after = asyncio.run(main())
    assert before == ""
    assert [json.loads(x)["status"] for x in after.splitlines()] == [200, 201]
    batch.add(line, 202)  # no loop: written now
    assert json.loads(stream.getvalue().splitlines()[-1])["status"] == 202
