"""One ingest run: plan, run the parallel stages on an engine, then commit shard by shard.

Commit is sequential and in plan order: dedupe against the whole store, features, write the
shard atomically and list it in the manifest (with the shards that lose the old rows of
changed inputs, in the same manifest update). Because the order is fixed, the store is the
same whichever engine ran and however often the run was stopped and started again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from flightdeck.media.dedupe import DedupeCounts, DedupeIndex
from flightdeck.media.engines import Engine
from flightdeck.media.errors import FailureReason
from flightdeck.media.features import Featurizer
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import PlanCounts, ShardTask, StoredInputs, plan_shards, run_key
from flightdeck.media.sources import Source, SourceRecord, local_version
from flightdeck.mediastore.schema import Row, Status, to_table
from flightdeck.mediastore.store import MediaStore

_INDEX_COLUMNS = ("doc_id", "status", "sha256", "phash", "source_key", "fingerprint", "parent_id")


@dataclass
class IngestReport(PlanCounts):
    """Running totals of one run; the progress bar and the final summary read it.
    The planning counts (new, changed, unchanged inputs) come from :class:`PlanCounts`."""

    inputs_done: int = 0  # inputs whose rows were committed
    documents: int = 0
    ok: int = 0
    duplicates_exact: int = 0
    duplicates_near: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    shards_written: int = 0
    bytes_written: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def inputs_seen(self) -> int:
        """Inputs that planning met in SOURCE, skipped or not."""
        return self.inputs_new + self.inputs_changed + self.inputs_unchanged + self.already_present

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
    """Dedupe, features and write, in order; holds the store's dedupe index and, with
    ``source_key``, what that source already stored (for planning a rerun)."""

    def __init__(
        self,
        store: MediaStore,
        options: IngestOptions,
        featurizer: Featurizer,
        source_key: str | None = None,
    ) -> None:
        self.store = store
        self.featurizer = featurizer
        self.index = DedupeIndex(max_distance=options.near_duplicate_distance)
        self.stored = StoredInputs()
        # pyarrow imports pandas, when installed, the first time it converts Python objects:
        # about 0.3 s of CPU. Spend it now, while the workers start, not in the first commit.
        threading.Thread(target=to_table, args=([],), daemon=True).start()
        for name in sorted(store.shards):
            rows = store.read_shard(name, _INDEX_COLUMNS).to_pylist()
            self.index.add_existing(rows)
            for row in rows:
                if row["source_key"] == source_key and row["parent_id"] is None:
                    self.stored.add(row["doc_id"], row["fingerprint"], name)

    def commit(self, task: ShardTask, rows: list[Row], report: IngestReport) -> None:
        started = time.monotonic()
        counts = DedupeCounts()
        rewrites, removed = self._without_replaced(task)
        self.index.remove(removed)
        rows = self.featurizer.apply(self.index.apply(rows, counts))
        self.write(task.name, task.source_key, rows, rows, counts, started, report, rewrites)
        report.inputs_done += len(task.records)
        for row in rows:
            if row.get("parent_id") is None:
                self.stored.add(row["doc_id"], row.get("fingerprint"), task.name)

    def _without_replaced(self, task: ShardTask) -> tuple[dict[str, list[Row]], set[str]]:
        """Old shards holding the documents ``task`` replaces, less those rows (and their
        keyframes); and the ids of every row dropped."""
        if not task.replaces:
            return {}, set()
        replaced = set(task.replaces)
        shards = {found[1] for d in replaced if (found := self.stored.lookup(d)) is not None}
        rewrites: dict[str, list[Row]] = {}
        removed: set[str] = set()
        for name in sorted(shards & set(self.store.shards)):
            kept = []
            for row in self.store.read_shard(name).to_pylist():
                if row["doc_id"] in replaced or row["parent_id"] in replaced:
                    removed.add(row["doc_id"])
                else:
                    kept.append(row)
            rewrites[name] = kept
        return rewrites, removed

    def write(
        self,
        name: str,
        source_key: str,
        rows: list[Row],
        new_rows: list[Row],
        counts: DedupeCounts,
        started: float,
        report: IngestReport,
        rewrites: dict[str, list[Row]] | None = None,
    ) -> None:
        """Write ``rows`` as shard ``name``; ``new_rows`` (this run's) go into the report.
        ``rewrites``: other shards to write in the same commit (empty ones are dropped)."""
        stats = _shard_stats(rows, counts, time.monotonic() - started)
        shards = {name: (to_table(rows), stats, source_key)}
        dropped = []
        for other, kept in (rewrites or {}).items():
            if kept:
                other_stats = _shard_stats(kept, DedupeCounts(), 0.0)
                shards[other] = (to_table(kept), other_stats, self.store.shards[other].source_key)
            else:
                dropped.append(other)
        entry = self.store.commit_shards(shards, dropped)[name]
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
    report: IngestReport | None = None,
) -> IngestReport:
    """Ingest the inputs of ``source`` that ``store`` lacks or holds in an older version
    (see :mod:`flightdeck.media.plan`); resumable at any point. Local paths are fetched only
    when ``source`` is local. ``featurizer``: one already loaded for ``options.features``
    (built here when None); ``report``: totals to update as the run goes (for progress)."""
    report = report if report is not None else IngestReport()
    featurizer = featurizer or Featurizer(options.features)
    featurizer.check()
    options = replace(options, fetch=replace(options.fetch, local_paths=source.is_local))
    key = run_key(source, options.shard_size)
    committer = Committer(store, options, featurizer, key)
    tasks = plan_shards(
        source,
        options.shard_size,
        committer.stored,
        committer.index.doc_ids,
        report,
        list(store.shards),
    )
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
    report: IngestReport | None = None,
) -> IngestReport:
    """Run again only the inputs whose failure was transient, replacing their failure rows."""
    wanted = {r.value for r in (reasons or [r for r in FailureReason if r.retryable])}
    report = report if report is not None else IngestReport()
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
        report.inputs_done += len(task.records)
        if progress is not None:
            progress(report)
    return report


def _retry_tasks(store: MediaStore, wanted: set[str]) -> Iterator[ShardTask]:
    for name in sorted(store.shards):
        rows = store.read_shard(
            name, ("doc_id", "input_index", "source", "caption", "metadata", "status", "error")
        ).to_pylist()
        failed = [
            SourceRecord(
                r["input_index"],
                r["source"],
                r["caption"],
                r["metadata"] or "{}",
                version=local_version(r["source"]),
            )
            for r in rows
            if r["status"] == Status.FAILED.value and r["error"] in wanted
        ]
        if failed:
            key, _, index = name.rpartition("-")
            yield ShardTask(key, int(index), tuple(failed))
