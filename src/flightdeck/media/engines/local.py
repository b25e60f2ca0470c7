"""The local engine: worker processes on this machine, streaming, a bounded number in flight."""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing.queues import SimpleQueue

from flightdeck.media.engines import (
    Progress,
    WorkerCrashed,
    isolate,
    prepare_task,
    start_worker,
)
from flightdeck.media.forkserver import start_workers_early
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.mediastore.schema import Row


class LocalEngine:
    """``workers`` processes; at most two shards planned ahead of the commit.
    With ``on_progress``, workers report finished documents while a shard is under way.

    A worker that dies (a decoder crash, the kernel's out-of-memory killer) takes its pool
    down: the pool is replaced, and each part it had is run again by :func:`isolate`, each
    time alone in a one-worker pool."""

    def __init__(self, workers: int, on_progress: Progress | None = None) -> None:
        self.workers = max(1, workers)
        # forkserver: workers fork from a clean server process that imported the stages once;
        # never from this one, which may hold torch threads (features) that forking breaks.
        self._context = multiprocessing.get_context("forkserver")
        start_workers_early()
        self._on_progress = on_progress
        self._events: SimpleQueue[Counter[str]] | None = None
        # Every worker gets the read end; only this process holds the write end, so a worker
        # sees end of file (and exits) when this process dies, even by SIGKILL.
        self._lifeline, self._lifeline_writer = self._context.Pipe(duplex=False)
        self._pool = self._new_pool()

    def _new_pool(self, workers: int | None = None) -> ProcessPoolExecutor:
        # A pipe handed to each worker as it starts: no manager process. Its put() has written
        # the counts before the worker returns the task's rows, so none arrive late. A new
        # pool gets a new pipe: a worker killed while writing could leave the old one locked.
        events = None
        if workers is None and self._on_progress is not None:
            events = self._events = self._context.SimpleQueue()
        return ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=self._context,
            initializer=start_worker,
            initargs=(events, self._lifeline),
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
        in_flight: deque[tuple[ShardTask, list[_Submitted]]] = deque()
        for task in tasks:
            parts = [self._submit(part, options) for part in split(task, self.workers)]
            in_flight.append((task, parts))
            if len(in_flight) >= 2:
                yield self._collect(*in_flight.popleft(), options)
        while in_flight:
            yield self._collect(*in_flight.popleft(), options)

    def _collect(
        self, task: ShardTask, parts: list[_Submitted], options: IngestOptions
    ) -> tuple[ShardTask, list[Row]]:
        rows: list[Row] = []
        for submitted in parts:
            try:
                rows.extend(self._wait(submitted.future))
            except BrokenProcessPool:
                if submitted.pool is self._pool:  # the first of its parts to notice
                    self._replace_pool()
                rows.extend(isolate(partial(self._run_alone, options=options), submitted.part))
        return task, rows

    def _submit(self, part: ShardTask, options: IngestOptions) -> _Submitted:
        try:
            future = self._pool.submit(prepare_task, part, options)
        except BrokenProcessPool:  # a worker died since the last submission
            self._replace_pool()
            future = self._pool.submit(prepare_task, part, options)
        return _Submitted(part, self._pool, future)

    def _replace_pool(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def _run_alone(self, part: ShardTask, options: IngestOptions) -> list[Row]:
        """``part`` in a one-worker pool of its own, so a crash is its own."""
        alone = self._new_pool(1)
        try:
            return alone.submit(prepare_task, part, options).result()
        except BrokenProcessPool as exc:
            raise WorkerCrashed(str(exc)) from exc
        finally:
            alone.shutdown(wait=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._events is not None:
            self._events.close()
        self._lifeline_writer.close()
        self._lifeline.close()


@dataclass(frozen=True)
class _Submitted:
    """One part of a shard, the pool it went to, and its future rows."""

    part: ShardTask
    pool: ProcessPoolExecutor
    future: Future[list[Row]]


MIN_PART = 32  # records: smaller parts cost more in start-up than they gain in balance


def split(task: ShardTask, parts: int) -> list[ShardTask]:
    """``task`` as up to ``parts`` consecutive slices (rows come back in input order)."""
    records = task.records
    size = max(MIN_PART, -(-len(records) // max(1, parts)))
    if len(records) <= size:
        return [task]
    return [replace(task, records=records[i : i + size]) for i in range(0, len(records), size)]
