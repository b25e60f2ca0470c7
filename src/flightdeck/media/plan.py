"""Planning: the inputs of SOURCE that the store lacks, streamed into shard tasks.

Inputs are keyed by identity, never by position: the document id (canonical URL or absolute
path) and a fingerprint (location, caption, metadata and, for local files, size and
modification time; :attr:`SourceRecord.fingerprint`). An input whose id this source already
stored with the same fingerprint is unchanged and skipped; one stored with another
fingerprint is changed and planned again, its old rows replaced when the new ones commit; one
never stored is new. So a grown folder, an edited, reordered or shortened manifest plans
exactly its new and changed inputs.

The pending inputs are packed, in SOURCE order, into shards of ``shard_size`` numbered after
the source's last stored shard. Commits happen in plan order, so after a run is stopped the
pending inputs are what followed the last committed shard, and the rerun packs the same
shards under the same names. Planning streams; per input it keeps a 64-bit key (to find
inputs repeated within SOURCE), and per input already stored by this source about 100 bytes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from flightdeck.media.sources import Source, SourceRecord


@dataclass(frozen=True)
class ShardTask:
    """A unit of work: some inputs of one source, written together as one shard.
    ``replaces``: ids of this source's stored documents that these inputs supersede."""

    source_key: str
    index: int
    records: tuple[SourceRecord, ...]
    replaces: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.source_key}-{self.index:06d}"


@dataclass
class PlanCounts:
    """What planning found: inputs new, changed, unchanged (skipped), and already in the
    store from another source or earlier in this one (skipped)."""

    inputs_new: int = 0
    inputs_changed: int = 0
    inputs_unchanged: int = 0
    already_present: int = 0


_PLAN_BATCH = 4096  # records whose keys are looked up together
_UNKNOWN = 0  # fingerprint of rows written before fingerprints existed: taken as unchanged


def _key(doc_id: str) -> int:
    return int(doc_id[:16], 16)


@dataclass
class StoredInputs:
    """The inputs one source has in the store: document id -> (fingerprint, shard), packed
    into one int per input (about 100 bytes each in memory)."""

    shards: list[str] = field(default_factory=list)
    _entries: dict[int, int] = field(default_factory=dict)
    _ordinals: dict[str, int] = field(default_factory=dict)

    def add(self, doc_id: str, fingerprint: str | None, shard: str) -> None:
        ordinal = self._ordinals.get(shard)
        if ordinal is None:
            ordinal = self._ordinals[shard] = len(self.shards)
            self.shards.append(shard)
        value = int(fingerprint, 16) if fingerprint else _UNKNOWN
        self._entries[_key(doc_id)] = value << 32 | ordinal

    def lookup(self, doc_id: str) -> tuple[int, str] | None:
        """(fingerprint as an int, 0 when unknown; shard name), or None when not stored."""
        value = self._entries.get(_key(doc_id))
        if value is None:
            return None
        return value >> 32, self.shards[value & 0xFFFFFFFF]


def next_index(shards: Iterable[str], source_key: str) -> int:
    """The number of a source's next shard: one after its highest in ``shards``."""
    prefix = source_key + "-"
    numbers = [int(n[len(prefix) :]) for n in shards if n.startswith(prefix)]
    return max(numbers, default=-1) + 1


class SeenKeys:
    """A set of 64-bit keys in about 8 bytes each: a sorted array, plus a Python set of the
    latest keys, merged into the array every ``batch`` keys (a set of ints costs ~90 bytes a
    key). Keys are added in blocks, so the array is searched once per block."""

    def __init__(self, batch: int = 1 << 16) -> None:
        self._sorted: npt.NDArray[np.uint64] = np.empty(0, np.uint64)
        self._recent: set[int] = set()
        self._batch = batch

    def add_many(self, keys: list[int]) -> list[bool]:
        """Add ``keys`` in order; for each, True when it was not there before."""
        stored = self._sorted
        if stored.size:
            wanted = np.fromiter(keys, np.uint64, len(keys))
            at = np.minimum(np.searchsorted(stored, wanted), stored.size - 1)
            present = (stored[at] == wanted).tolist()
        else:
            present = [False] * len(keys)
        recent = self._recent
        added = []
        for key, old in zip(keys, present, strict=True):
            new = not old and key not in recent
            if new:
                recent.add(key)
            added.append(new)
        if len(recent) >= self._batch:
            merged = np.concatenate([stored, np.fromiter(recent, np.uint64, len(recent))])
            self._sorted = np.sort(merged)
            self._recent = set()
        return added


def run_key(source: Source, shard_size: int) -> str:
    """Source key for this shard size (a different size plans different shards)."""
    return hashlib.sha256(f"{source.key}/{shard_size}".encode()).hexdigest()[:12]


def plan_shards(
    source: Source,
    shard_size: int,
    stored: StoredInputs,
    elsewhere: Container[str],
    counts: PlanCounts,
    existing: Iterable[str] = (),
) -> Iterator[ShardTask]:
    """Shard tasks for the new and changed inputs of ``source``; ``stored`` is what this
    source has in the store, ``elsewhere`` the ids of every other document there,
    ``existing`` the names of the store's shards. ``counts`` is updated as the plan streams."""
    key = run_key(source, shard_size)
    index = next_index(existing, key)
    seen = SeenKeys()  # inputs met so far: a repeated id is skipped like a stored one
    block: list[SourceRecord] = []
    replaces: list[str] = []
    records = source.records()
    while batch := list(itertools.islice(records, _PLAN_BATCH)):
        ids = [record.doc_id for record in batch]
        firsts = seen.add_many([_key(doc_id) for doc_id in ids])
        for record, doc_id, first in zip(batch, ids, firsts, strict=True):
            if not first:
                counts.already_present += 1
            elif _planned(record, doc_id, stored, elsewhere, counts, replaces):
                block.append(record)
            if len(block) == shard_size:
                yield ShardTask(key, index, tuple(block), tuple(replaces))
                block, replaces = [], []
                index += 1
    if block:
        yield ShardTask(key, index, tuple(block), tuple(replaces))


def _planned(
    record: SourceRecord,
    doc_id: str,
    stored: StoredInputs,
    elsewhere: Container[str],
    counts: PlanCounts,
    replaces: list[str],
) -> bool:
    """Whether ``record`` (of id ``doc_id``) needs work (new or changed), counting what it is."""
    previous = stored.lookup(doc_id)
    if previous is not None:
        if previous[0] in (_UNKNOWN, int(record.fingerprint, 16)):
            counts.inputs_unchanged += 1
            return False
        counts.inputs_changed += 1
        replaces.append(doc_id)
        return True
    if doc_id in elsewhere:
        counts.already_present += 1
        return False
    counts.inputs_new += 1
    return True
