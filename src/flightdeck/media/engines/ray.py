"""The Ray engine: the same stages on Ray Data, locally or on a cluster (``--address``).

Tasks are fed to Ray Data in windows so the driver never holds the whole plan, and order is
preserved so the commit (dedupe, features, write) sees exactly what the local engine sees.
"""

from __future__ import annotations

import itertools
import os
import pickle
import warnings
from collections.abc import Iterator
from functools import partial
from typing import Any

from flightdeck.media.engines import WorkerCrashed, exit_with_process, isolate, prepare_task
from flightdeck.media.errors import MediaError
from flightdeck.media.options import IngestOptions
from flightdeck.media.plan import ShardTask
from flightdeck.media.reaper import start_reaper
from flightdeck.mediastore.schema import Row


def _prepare_item(item: dict[str, Any]) -> dict[str, Any]:
    task, options = pickle.loads(item["task"])  # noqa: S301 - produced by this driver
    return {"rows": pickle.dumps(_prepare(task, options, item["driver_pid"]))}


def _prepare(task: ShardTask, options: IngestOptions, driver_pid: int) -> list[Row]:
    """``prepare_task`` in a Ray worker; with ``driver_pid`` (a local Ray that the driver
    started), the worker exits when the driver does: Ray itself lets busy workers run on."""
    if driver_pid:
        exit_with_process(driver_pid)
    return prepare_task(task, options)


class RayEngine:
    """Runs on an existing cluster at ``address`` or a local Ray with ``workers`` CPUs."""

    def __init__(self, workers: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise MediaError(
                "the ray engine needs Ray Data: pip install 'flightdeck[media]'"
            ) from exc
        self._ray = ray
        self.workers = max(1, workers)
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = self.workers
            ray.init(**kwargs)
            self._started = True
        # A local Ray (no address) dies with this process, however it dies: its GCS and raylet
        # by Ray's own fate sharing, busy workers by exit_with_process, the rest by the reaper.
        local = self._started and not address
        self._reaper = start_reaper() if local else None
        # Workers of a local Ray watch this process (by pid, so not across machines).
        self._driver_pid = os.getpid() if local else 0
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False

    def run(
        self, tasks: Iterator[ShardTask], options: IngestOptions
    ) -> Iterator[tuple[ShardTask, list[Row]]]:
        window = 4 * self.workers
        while True:
            chunk = list(itertools.islice(tasks, window))
            if not chunk:
                return
            items = [
                {"task": pickle.dumps((task, options)), "driver_pid": self._driver_pid}
                for task in chunk
            ]
            # A few retries for lost nodes, not Ray Data's default of forever: a task whose
            # worker keeps dying on one input would be retried until the job is killed. Ray
            # 2.60 warns that remote args are deprecated but has no other way to say it.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                dataset = self._ray.data.from_items(items, override_num_blocks=len(items)).map(
                    _prepare_item, num_cpus=1, max_retries=2
                )
            try:
                results = [pickle.loads(r["rows"]) for r in dataset.take_all()]  # noqa: S301
            except self._ray.exceptions.RayError:
                # Some task of the window failed; run each again alone to see which, and why.
                run_alone = partial(self._run_alone, options=options)
                results = [isolate(run_alone, task) for task in chunk]
            yield from zip(chunk, results, strict=True)

    def _run_alone(self, part: ShardTask, options: IngestOptions) -> list[Row]:
        """``part`` as a Ray task of its own, so a crash is its own; other errors propagate."""
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(_prepare)
        try:
            rows: list[Row] = ray.get(remote.remote(part, options, self._driver_pid))
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError) as exc:
            raise WorkerCrashed(str(exc).splitlines()[0]) from exc
        return rows

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
        if self._reaper is not None:
            self._reaper.terminate()
            self._reaper.wait()
