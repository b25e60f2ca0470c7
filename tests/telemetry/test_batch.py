"""The request path's telemetry queue (``telemetry/batch.py``): queued on the event loop and
run in order, by its timer, its size or a reader; at once outside a loop; a failing call
logged without losing the rest; a flush from another thread run on the loop's; and what a
request's queued end records (times) taken when the request ended, not when the queue ran."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import datetime

import openai
import pytest
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, generate_latest

from flightdeck.telemetry.batch import Batch
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


def test_a_full_queue_runs_at_once() -> None:
    ran: list[int] = []
    batch = Batch(seconds=60, items=3)

    async def main() -> None:
        batch.add(ran.append, 1)
        batch.add(ran.append, 2)
        assert ran == []
        batch.add(ran.append, 3)
        assert ran == [1, 2, 3]

    asyncio.run(main())


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


def test_work_left_when_a_loop_closed_runs_on_the_next_flush_and_a_new_loop_gets_a_timer() -> None:
    ran: list[str] = []
    batch = Batch(seconds=30)

    async def queue(what: str) -> None:
        batch.add(ran.append, what)

    asyncio.run(queue("first"))  # its loop closed with the timer pending
    batch.flush()  # no loop runs: here
    assert ran == ["first"]

    async def again() -> None:
        batch.seconds = 0.05
        batch.add(ran.append, "second")
        await asyncio.sleep(0.2)  # this loop's own timer, not the dead loop's

    asyncio.run(again())
    assert ran == ["first", "second"]


def test_a_scrape_reads_what_was_queued_before_it() -> None:
    registry = CollectorRegistry()
    batch = Batch(seconds=60)
    registry.register(batch.collector())
    counter = LoopCounter("queued", "Queued increments.", ["kind"], registry=registry)

    async def main() -> bytes:
        for _ in range(4):
            batch.add(counter.labels("a").inc)
        return await asyncio.to_thread(generate_latest, registry)  # a scraper's thread

    assert b'queued_total{kind="a"} 4.0' in asyncio.run(main())


def test_a_requests_line_and_spans_carry_when_it_ended_not_when_the_queue_ran(
    upstream: FakeUpstream,
    make_settings: MakeSettings,
    recorded: Record,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = recorded(make_settings([{"name": "m", "base_url": upstream.base_url}]))
    # after the server: its logs setup set INFO, which caplog then restores at teardown
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec.telemetry.batch.seconds = 1.0  # the queue runs well after the request
    client = openai.OpenAI(
        base_url=rec.server.url + "/v1", api_key=rec.server.api_key, max_retries=0
    )
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    answered_ns = time.time_ns()
    spans = rec.finished()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    attempt = next(s for s in spans if s.kind is SpanKind.CLIENT)
    assert server.end_time is not None and attempt.end_time is not None
    assert attempt.end_time <= server.end_time <= answered_ns
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER]
    stamp = datetime.fromisoformat(lines[-1]["time"].replace("Z", "+00:00"))
    assert stamp.timestamp() * 1e9 <= answered_ns
