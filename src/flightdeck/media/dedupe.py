"""Dedupe stage: exact (SHA-256) and near (pHash Hamming distance) duplicates across the store.

The index holds, for every kept document, its SHA-256 and pHash, and the ids of every document
in the store. It is rebuilt from the store's committed shards when a run starts, so a resumed
run or a new manifest appended to a store deduplicates against everything already written.
Duplicates stay in the store as rows whose ``duplicate_of`` links to the kept document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from flightdeck.media.hashing import hamming_to_all
from flightdeck.mediastore.schema import Row, Status

_DUPLICATE_CLEARS = ("thumbnail", "thumbnail_format", "thumbnail_width", "thumbnail_height")


@dataclass
class DedupeCounts:
    """How many documents were duplicates: exact, near, or already in the store."""

    exact: int = 0
    near: int = 0
    already_present: int = 0


@dataclass
class DedupeIndex:
    """Hashes of the kept documents and ids of all documents; applied in commit order."""

    max_distance: int = 4
    doc_ids: set[str] = field(default_factory=set)
    by_sha256: dict[str, str] = field(default_factory=dict)
    _phashes: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(1024, np.uint64))
    _phash_ids: list[str] = field(default_factory=list)

    def add_existing(self, rows: Iterable[Row]) -> None:
        """Load rows already in the store (doc_id, status, sha256, phash)."""
        for row in rows:
            self.doc_ids.add(row["doc_id"])
            if row["status"] == Status.OK.value:
                self._keep(row)

    def forget(self, doc_ids: Iterable[str]) -> None:
        """Drop ids of failure rows about to be replaced by a retry."""
        self.doc_ids.difference_update(doc_ids)

    def remove(self, doc_ids: Iterable[str]) -> None:
        """Forget documents whose rows are being replaced (a changed input): their ids and,
        when they were kept, their hashes, so the new version is not its own duplicate."""
        gone = set(doc_ids)
        if not gone:
            return
        self.doc_ids.difference_update(gone)
        self.by_sha256 = {sha: kept for sha, kept in self.by_sha256.items() if kept not in gone}
        count = len(self._phash_ids)
        keep = [i for i, doc_id in enumerate(self._phash_ids) if doc_id not in gone]
        if len(keep) < count:
            phashes = self._phashes[:count][keep]
            self._phash_ids = [self._phash_ids[i] for i in keep]
            self._phashes = np.concatenate([phashes, np.zeros(max(1024, len(keep)), np.uint64)])

    def apply(self, rows: list[Row], counts: DedupeCounts) -> list[Row]:
        """Mark duplicates in ``rows`` (in order) and drop rows already in the store."""
        out: list[Row] = []
        for row in rows:
            if row["doc_id"] in self.doc_ids:
                counts.already_present += 1
                continue
            self.doc_ids.add(row["doc_id"])
            if row.get("status") == Status.OK.value:
                row = self._mark(row, counts)
            out.append(row)
        return out

    def _mark(self, row: Row, counts: DedupeCounts) -> Row:
        kept = self.by_sha256.get(row.get("sha256") or "")
        distance = 0
        if kept is None and row.get("phash") is not None and self.max_distance >= 0:
            kept, distance = self._nearest(row["phash"])
        if kept is None:
            self._keep(row)
            return row
        if distance == 0 and row.get("sha256") in self.by_sha256:
            counts.exact += 1
        else:
            counts.near += 1
        cleared = dict.fromkeys(_DUPLICATE_CLEARS)
        return (
            row
            | cleared
            | {
                "status": Status.DUPLICATE.value,
                "duplicate_of": kept,
                "duplicate_distance": distance,
            }
        )

    def _nearest(self, phash: int) -> tuple[str | None, int]:
        count = len(self._phash_ids)
        if count == 0:
            return None, 0
        distances = hamming_to_all(phash, self._phashes[:count])
        best = int(np.argmin(distances))
        if int(distances[best]) <= self.max_distance:
            return self._phash_ids[best], int(distances[best])
        return None, 0

    def _keep(self, row: Row) -> None:
        if row.get("sha256"):
            self.by_sha256.setdefault(row["sha256"], row["doc_id"])
        if row.get("phash") is not None:
            count = len(self._phash_ids)
            if count == len(self._phashes):
                self._phashes = np.concatenate([self._phashes, np.zeros(count, np.uint64)])
            self._phashes[count] = np.uint64(row["phash"])
            self._phash_ids.append(row["doc_id"])
