"""Engines run the parallel stages over shard tasks and hand results back in plan order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.schema import Row
from flightdeck.media.stages import prepare_records


class Engine(Protocol):
    """Runs ``prepare_task`` on many tasks; yields ``(task, rows)`` in the order given."""

    def run(
        self, tasks: Iterator[ShardTask], options: IngestOptions
    ) -> Iterator[tuple[ShardTask, list[Row]]]: ...

    def close(self) -> None: ...


def prepare_task(task: ShardTask, options: IngestOptions) -> list[Row]:
    """The unit of work an engine ships to a worker."""
    return prepare_records(task.records, task.source_key, options)
