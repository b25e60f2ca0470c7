"""The local engine: worker processes on this machine, streaming, a bounded number in flight."""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing.queues import SimpleQueue

from flightdeck.media.engines import Progress, prepare_task, report_progress_to
from flightdeck.media.forkserver import start_workers_early
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.schema import Row


class LocalEngine:
    """``workers`` processes; at most two shards planned ahead of the commit.
    With ``on_progress``, workers report finished documents while a shard is under way."""

    def __init__(self, workers: int, on_progress: Progress | None = None) -> None:
        self.workers = max(1, workers)
        # forkserver: workers fork from a clean server process that imported the stages once;
        # never from this one, which may hold torch threads (features) that forking breaks.
        context = multiprocessing.get_context("forkserver")
        start_workers_early()
        self._on_progress = on_progress
        # A pipe handed to each worker as it starts: no manager process. Its put() has written
        # the counts before the worker returns the task's rows, so none arrive late.
        self._events: SimpleQueue[Counter[str]] | None = (
            context.SimpleQueue() if on_progress else None
        )
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=report_progress_to,
            initargs=(self._events,),
        )

    def _wait(self, future: Future[list[Row]]) -> list[Row]:
        events, on_progress = self._events, self._on_progress
        if events is None or on_progress is None:
            return future.result()
        while True:
            finished = not wait([future], timeout=0.2).not_done
            while not events.empty():
                on_progress(events.get())
            if finished:
                return future.result()

    def run(
        self, tasks: Iterator[ShardTask], options: IngestOptions
    ) -> Iterator[tuple[ShardTask, list[Row]]]:
        """Each shard is split across every worker, so one shard keeps them all busy and a
        finished shard is committed while the next is prepared; two shards in flight."""
        in_flight: deque[tuple[ShardTask, list[Future[list[Row]]]]] = deque()
        for task in tasks:
            parts = [
                self._pool.submit(prepare_task, part, options) for part in split(task, self.workers)
            ]
            in_flight.append((task, parts))
            if len(in_flight) >= 2:
                done, futures = in_flight.popleft()
                yield done, [row for future in futures for row in self._wait(future)]
        while in_flight:
            done, futures = in_flight.popleft()
            yield done, [row for future in futures for row in self._wait(future)]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._events is not None:
            self._events.close()


MIN_PART = 32  # records: smaller parts cost more in start-up than they gain in balance


def split(task: ShardTask, parts: int) -> list[ShardTask]:
    """``task`` as up to ``parts`` consecutive slices (rows come back in input order)."""
    records = task.records
    size = max(MIN_PART, -(-len(records) // max(1, parts)))
    if len(records) <= size:
        return [task]
    return [replace(task, records=records[i : i + size]) for i in range(0, len(records), size)]
