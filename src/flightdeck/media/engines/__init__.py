"""Engines run the parallel stages over shard tasks and hand results back in plan order."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.queues import SimpleQueue
from typing import Protocol

from flightdeck.media.errors import DocumentFailed, FailureReason
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.rows import base_row, failure_row
from flightdeck.mediastore.schema import Row

Progress = Callable[[Counter[str]], None]
"""Called with counts of documents finished by workers since the last call."""


class Engine(Protocol):
    """Runs ``prepare_task`` on many tasks; yields ``(task, rows)`` in the order given."""

    def run(
        self, tasks: Iterator[ShardTask], options: IngestOptions
    ) -> Iterator[tuple[ShardTask, list[Row]]]: ...

    def close(self) -> None: ...


class WorkerCrashed(Exception):
    """The process running a task died: a decoder crash, the out-of-memory killer."""


def isolate(run_alone: Callable[[ShardTask], list[Row]], part: ShardTask) -> list[Row]:
    """Rows of ``part`` after a worker died on it or beside it. ``run_alone`` runs a part with
    nothing else in its process, so a crash is that part's own (it raises WorkerCrashed); a
    part that crashes is halved until the one record that kills a worker is found. That
    record gets a ``worker_crashed`` failure row and every other record its usual rows, so one
    poisonous input can neither stop an ingest nor block its resumption."""
    try:
        return run_alone(part)
    except WorkerCrashed:
        if len(part.records) <= 1:
            crashed = DocumentFailed(
                FailureReason.WORKER_CRASHED,
                "the worker process died on this input (a decoder crash, or out of memory)",
            )
            return [failure_row(base_row(r, part.source_key), crashed) for r in part.records]
    half = len(part.records) // 2
    first, second = part.records[:half], part.records[half:]
    return isolate(run_alone, replace(part, records=first)) + isolate(
        run_alone, replace(part, records=second)
    )


_events: SimpleQueue[Counter[str]] | None = None  # in a worker: where progress counts go


def report_progress_to(events: SimpleQueue[Counter[str]] | None) -> None:
    """Worker initializer: send counts of finished documents to ``events`` (None: do not)."""
    global _events
    _events = events


def start_worker(events: SimpleQueue[Counter[str]] | None, lifeline: Connection) -> None:
    """Worker initializer of the local engine: report progress to ``events`` and exit as soon
    as ``lifeline`` (the read end of a pipe whose only write end the driver holds) reaches
    end of file, that is when the driver is gone, however it died (``kill -9`` included).
    Without it a worker waits on its task queue forever, and keeps the fork server alive."""
    report_progress_to(events)
    threading.Thread(target=_exit_with_driver, args=(lifeline,), daemon=True).start()


def _exit_with_driver(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()  # the driver never writes: this returns only at end of file
    os._exit(1)


_watched: set[int] = set()  # in a Ray worker: driver processes it already watches


def exit_with_process(pid: int) -> None:
    """End this process as soon as process ``pid`` (on this machine) exits: a thread waits on
    a pidfd (Linux 5.3+), started once per process. For the Ray workers of a local Ray that
    the driver started, which Ray lets run on after the driver's death."""
    if pid in _watched:
        return
    _watched.add(pid)
    threading.Thread(target=_wait_for_exit, args=(pid,), daemon=True).start()


def _wait_for_exit(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):  # no pidfd on this system: nothing to wait with
        return
    select.select([handle], [], [])  # readable once the process has exited
    os._exit(1)


def prepare_task(task: ShardTask, options: IngestOptions) -> list[Row]:
    """The unit of work an engine ships to a worker. In a worker set up with
    :func:`report_progress_to`, counts of finished documents (``ok`` or a failure reason) are
    sent about four times a second."""
    # Imported here: the stages (aiohttp, OpenCV, PyAV) load in the workers, which have them
    # preloaded, never in the driver process that only plans and commits.
    from flightdeck.media.stages import prepare_records

    if _events is None:
        return prepare_records(task.records, task.source_key, options)
    tally = _Tally(_events)
    try:
        return prepare_records(task.records, task.source_key, options, tally.add)
    finally:
        tally.flush()


class _Tally:
    """Counts finished documents and sends the counts in batches, not one message each."""

    def __init__(self, events: SimpleQueue[Counter[str]]) -> None:
        self.events = events
        self.counts: Counter[str] = Counter()
        self.sent = time.monotonic()

    def add(self, rows: list[Row]) -> None:
        first = rows[0]
        self.counts[first.get("error") or "ok"] += 1
        if time.monotonic() - self.sent > 0.25:
            self.flush()

    def flush(self) -> None:
        if self.counts:
            self.events.put(self.counts)
            self.counts = Counter()
        self.sent = time.monotonic()
