"""Planning: SOURCE streamed into shard tasks of a fixed number of inputs.

Shard ``i`` of a source holds inputs ``[i*size, (i+1)*size)``, so the same command always
plans the same shards; a shard already listed in the store's manifest is skipped, which is
how a stopped run resumes. Planning streams: it never holds more than one shard of records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass

from flightdeck.media.sources import Source, SourceRecord


@dataclass(frozen=True)
class ShardTask:
    """A unit of work: some inputs of one source, written together as one shard."""

    source_key: str
    index: int
    records: tuple[SourceRecord, ...]

    @property
    def name(self) -> str:
        return f"{self.source_key}-{self.index:06d}"


def run_key(source: Source, shard_size: int) -> str:
    """Source key for this shard size (a different size plans different shards)."""
    return hashlib.sha256(f"{source.key}/{shard_size}".encode()).hexdigest()[:12]


def plan_shards(
    source: Source,
    shard_size: int,
    done: Container[str] = frozenset(),
    keep: Callable[[SourceRecord], bool] | None = None,
) -> Iterator[ShardTask]:
    """Shard tasks not yet in ``done``; ``keep`` drops inputs already in the store."""
    key = run_key(source, shard_size)
    block: list[SourceRecord] = []
    index = 0
    for record in source.records():
        block.append(record)
        if len(block) == shard_size:
            task = _task(key, index, block, done, keep)
            if task is not None:
                yield task
            block = []
            index += 1
    if block:
        task = _task(key, index, block, done, keep)
        if task is not None:
            yield task


def _task(
    key: str,
    index: int,
    block: list[SourceRecord],
    done: Container[str],
    keep: Callable[[SourceRecord], bool] | None,
) -> ShardTask | None:
    if f"{key}-{index:06d}" in done:
        return None
    records = tuple(r for r in block if keep is None or keep(r))
    return ShardTask(key, index, records)
