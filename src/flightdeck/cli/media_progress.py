"""The progress display of ``flightdeck media ingest``: a rich bar with counts, rate and ETA.

The total is the number of inputs in SOURCE, counted in a background thread when that is
cheap (:meth:`Source.count`), so the bar has a total from its first second without delaying
the work; until then (and for sources that cannot be counted) it pulses. Inputs skipped as
unchanged or already in the store count as done.
"""

from __future__ import annotations

import threading
from collections import Counter
from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flightdeck.media.ingest import IngestReport
from flightdeck.media.sources import Source


class IngestProgress:
    """A live bar over one run. ``on_documents`` takes the workers' counts, ``on_commit``
    the run's report; use as a context manager."""

    def __init__(self, console: Console, source: Source | None, report: IngestReport) -> None:
        self.report = report
        self.live: Counter[str] = Counter()
        self.total: int | None = None
        self._bar = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(bar_width=20),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._job = self._bar.add_task(self._describe(), total=None)
        self._source = source

    def __enter__(self) -> IngestProgress:
        self._bar.start()
        if self._source is not None:
            threading.Thread(target=self._count, args=(self._source,), daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:  # the run is over: what was done is the total
            self.live = Counter({"ok": self.report.ok, **self.report.failures})
            self.total = self._done()
        self.refresh()
        self._bar.stop()

    def _count(self, source: Source) -> None:
        try:
            total = source.count()
        except Exception:
            return
        if total is not None and self.total is None:
            self.total = total
            self.refresh()

    def on_documents(self, counts: Counter[str]) -> None:
        self.live.update(counts)
        self.refresh()

    def on_commit(self, report: IngestReport) -> None:
        self.report = report
        self.refresh()

    def _done(self) -> int:
        report = self.report
        finished = max(sum(self.live.values()), report.inputs_done)
        return finished + report.inputs_unchanged + report.already_present

    def refresh(self) -> None:
        done = self._done()
        total = None if self.total is None else max(self.total, done)
        self._bar.update(self._job, description=self._describe(), completed=done, total=total)

    def _describe(self) -> str:
        report, live, total = self.report, self.live, self.total
        done = self._done()
        worked = max(sum(live.values()), report.inputs_done)
        rate = worked / max(report.seconds, 1e-9)
        count = f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"
        eta = ""
        if total is not None and rate > 0 and done < total:
            eta = f" ETA {_clock((total - done) / rate)}"
        failures = ", ".join(f"{k} {v}" for k, v in sorted(live.items()) if k != "ok") or "none"
        return (
            f"{count} inputs ({rate:.1f}/s){eta}  ok {live['ok']}  failed: {failures}  "
            f"skipped {report.inputs_unchanged + report.already_present}  "
            f"| committed {report.documents} ({decimal(report.bytes_written)})"
        )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def summary(report: IngestReport, store: str, device: str | None) -> Table:
    """The table printed at the end of a run."""
    table = Table(title=f"media ingest -> {store}")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, object]] = [
        ("new inputs", report.inputs_new),
        ("changed inputs", report.inputs_changed),
        ("unchanged inputs (skipped)", report.inputs_unchanged),
        ("already in store", report.already_present),
        ("documents written", report.documents),
        ("ok", report.ok),
        ("exact duplicates", report.duplicates_exact),
        ("near duplicates", report.duplicates_near),
        *((f"failed: {k}", v) for k, v in sorted(report.failures.items())),
        ("shards written", report.shards_written),
        ("bytes written", decimal(report.bytes_written)),
        ("seconds", f"{report.seconds:.1f}"),
        ("documents/s", f"{report.documents / max(report.seconds, 1e-9):.1f}"),
        ("models on", device or "no models"),
    ]
    for what, count in rows:
        table.add_row(what, str(count))
    return table
