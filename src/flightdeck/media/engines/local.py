"""The local engine: worker processes on this machine, streaming, a bounded number in flight."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from flightdeck.media.engines import prepare_task
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.schema import Row


class LocalEngine:
    """``workers`` processes; at most ``2 * workers`` shards planned ahead of the commit."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        # spawn: the parent may hold torch threads (features); forking those is unsafe.
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    def run(
        self, tasks: Iterator[ShardTask], options: IngestOptions
    ) -> Iterator[tuple[ShardTask, list[Row]]]:
        in_flight: deque[tuple[ShardTask, Future[list[Row]]]] = deque()
        ahead = 2 * self.workers
        for task in tasks:
            in_flight.append((task, self._pool.submit(prepare_task, task, options)))
            if len(in_flight) >= ahead:
                done, future = in_flight.popleft()
                yield done, future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
