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
shards under the same names. Planning streams; per input it keeps only two 64-bit numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field

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
    seen: set[int] = set()  # inputs met so far: a repeated id is skipped like a stored one
    block: list[SourceRecord] = []
    replaces: list[str] = []
    for record in source.records():
        doc_id = record.doc_id
        if _key(doc_id) in seen:
            counts.already_present += 1
            continue
        seen.add(_key(doc_id))
        previous = stored.lookup(doc_id)
        if previous is not None:
            fingerprint = previous[0]
            if fingerprint in (_UNKNOWN, int(record.fingerprint, 16)):
                counts.inputs_unchanged += 1
                continue
            counts.inputs_changed += 1
            replaces.append(doc_id)
        elif doc_id in elsewhere:
            counts.already_present += 1
            continue
        else:
            counts.inputs_new += 1
        block.append(record)
        if len(block) == shard_size:
            yield ShardTask(key, index, tuple(block), tuple(replaces))
            block, replaces = [], []
            index += 1
    if block:
        yield ShardTask(key, index, tuple(block), tuple(replaces))
