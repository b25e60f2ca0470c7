"""One ingest run: plan, run the parallel stages on an engine, then commit shard by shard.

Commit is sequential and in plan order: dedupe against the whole store, features, write the
shard atomically and list it in the manifest. Because the order is fixed, the store is the
same whichever engine ran and however often the run was stopped and started again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from flightdeck.media.dedupe import DedupeCounts, DedupeIndex
from flightdeck.media.engines import Engine
from flightdeck.media.errors import FailureReason
from flightdeck.media.features import Featurizer
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask, plan_shards, run_key
from flightdeck.media.schema import Row, Status, to_table
from flightdeck.media.sources import Source, SourceRecord
from flightdeck.media.store import MediaStore

_INDEX_COLUMNS = ("doc_id", "status", "sha256", "phash")


@dataclass
class IngestReport:
    """Running totals of one run; the progress bar and the final summary read it."""

    documents: int = 0
    ok: int = 0
    duplicates_exact: int = 0
    duplicates_near: int = 0
    already_present: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    shards_written: int = 0
    shards_skipped: int = 0
    bytes_written: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = dict(self.failures)
        data.pop("started")
        data["seconds"] = round(self.seconds, 3)
        return data


Progress = Callable[[IngestReport], None]


def _shard_stats(rows: list[Row], counts: DedupeCounts, seconds: float) -> dict[str, Any]:
    statuses = Counter(r["status"] for r in rows)
    return {
        "rows": len(rows),
        "ok": statuses.get(Status.OK.value, 0),
        "duplicates": statuses.get(Status.DUPLICATE.value, 0),
        "duplicates_exact": counts.exact,
        "duplicates_near": counts.near,
        "already_present": counts.already_present,
        "failed": statuses.get(Status.FAILED.value, 0),
        "failures": dict(Counter(r["error"] for r in rows if r["status"] == Status.FAILED.value)),
        "thumbnail_bytes": sum(len(r.get("thumbnail") or b"") for r in rows),
        "commit_seconds": round(seconds, 3),
    }


class Committer:
    """Dedupe, features and write, in order; holds the store's dedupe index."""

    def __init__(self, store: MediaStore, options: IngestOptions, featurizer: Featurizer) -> None:
        self.store = store
        self.featurizer = featurizer
        self.index = DedupeIndex(max_distance=options.near_duplicate_distance)
        # pyarrow imports pandas, when installed, the first time it converts Python objects:
        # about 0.3 s of CPU. Spend it now, while the workers start, not in the first commit.
        threading.Thread(target=to_table, args=([],), daemon=True).start()
        self.index.add_existing(store.iter_rows(_INDEX_COLUMNS))

    def commit(self, task: ShardTask, rows: list[Row], report: IngestReport) -> None:
        started = time.monotonic()
        counts = DedupeCounts()
        rows = self.featurizer.apply(self.index.apply(rows, counts))
        self.write(task.name, task.source_key, rows, rows, counts, started, report)

    def write(
        self,
        name: str,
        source_key: str,
        rows: list[Row],
        new_rows: list[Row],
        counts: DedupeCounts,
        started: float,
        report: IngestReport,
    ) -> None:
        """Write ``rows`` as shard ``name``; ``new_rows`` (this run's) go into the report."""
        stats = _shard_stats(rows, counts, time.monotonic() - started)
        entry = self.store.commit_shard(name, to_table(rows), stats, source_key)
        new = _shard_stats(new_rows, counts, 0.0)
        report.documents += len(new_rows)
        report.ok += new["ok"]
        report.duplicates_exact += counts.exact
        report.duplicates_near += counts.near
        report.already_present += counts.already_present
        report.failures.update(new["failures"])
        report.shards_written += 1
        report.bytes_written += entry.bytes


def ingest(
    source: Source,
    store: MediaStore,
    options: IngestOptions,
    engine: Engine,
    progress: Progress | None = None,
    featurizer: Featurizer | None = None,
) -> IngestReport:
    """Ingest every input of ``source`` not yet in ``store``; resumable at any point.
    ``featurizer``: one already loaded for ``options.features`` (built here when None)."""
    report = IngestReport()
    featurizer = featurizer or Featurizer(options.features)
    featurizer.check()
    committer = Committer(store, options, featurizer)

    def not_in_store(record: SourceRecord) -> bool:
        if record.doc_id in committer.index.doc_ids:
            report.already_present += 1
            return False
        return True

    prefix = run_key(source, options.shard_size) + "-"
    report.shards_skipped = sum(1 for name in store.shards if name.startswith(prefix))
    tasks = plan_shards(source, options.shard_size, store.shards, not_in_store)
    for task, rows in engine.run(tasks, options):
        committer.commit(task, rows, report)
        if progress is not None:
            progress(report)
    return report


def retry_failed(
    store: MediaStore,
    options: IngestOptions,
    engine: Engine,
    progress: Progress | None = None,
    reasons: Sequence[FailureReason] | None = None,
    featurizer: Featurizer | None = None,
) -> IngestReport:
    """Run again only the inputs whose failure was transient, replacing their failure rows."""
    wanted = {r.value for r in (reasons or [r for r in FailureReason if r.retryable])}
    report = IngestReport()
    featurizer = featurizer or Featurizer(options.features)
    featurizer.check()
    committer = Committer(store, options, featurizer)
    tasks = _retry_tasks(store, wanted)
    for task, fresh in engine.run(tasks, options):
        started = time.monotonic()
        old = store.read_shard(task.name).to_pylist()
        retried = {r.doc_id for r in task.records}
        committer.index.forget(retried)
        counts = DedupeCounts()
        fresh = featurizer.apply(committer.index.apply(fresh, counts))
        by_input: dict[int, list[Row]] = {}
        for row in fresh:
            by_input.setdefault(row["input_index"], []).append(row)
        merged: list[Row] = []
        for row in old:
            if row["doc_id"] in retried:
                merged.extend(by_input.get(row["input_index"], []))
            else:
                merged.append(row)
        committer.write(task.name, task.source_key, merged, fresh, counts, started, report)
        if progress is not None:
            progress(report)
    return report


def _retry_tasks(store: MediaStore, wanted: set[str]) -> Iterator[ShardTask]:
    for name in sorted(store.shards):
        rows = store.read_shard(
            name, ("doc_id", "input_index", "source", "caption", "metadata", "status", "error")
        ).to_pylist()
        failed = [
            SourceRecord(r["input_index"], r["source"], r["caption"], r["metadata"] or "{}")
            for r in rows
            if r["status"] == Status.FAILED.value and r["error"] in wanted
        ]
        if failed:
            key, _, index = name.rpartition("-")
            yield ShardTask(key, int(index), tuple(failed))
