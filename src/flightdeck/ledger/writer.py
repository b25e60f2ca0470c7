"""The batched ledger writer: the request path hands records over and never waits for a database.

    writer = LedgerWriter(store.engine, Spool(spool_dir))
    await writer.start()                 # replays segments left by a crash or an outage
    writer.record(UsageRecord(...))      # cheap, synchronous, never raises
    await writer.commit(UsageRecord(...))  # the same; with durable=True, returns once fsynced
    await writer.close()                 # graceful: everything spooled, database tried once

Every ``flush_interval`` (or sooner when ``batch_size`` records wait) the buffer is written to a
spool segment and fsynced; only then is it written to the database. A ``kill -9`` loses at most
the records of the last ``flush_interval``, unless the writer is ``durable``: then ``commit``
returns only once its record is fsynced, and the caller answers after that (group commit: the
records that arrive while one fsync runs share the next). While the database is down, segments
accumulate on disk and are written, oldest first, once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from flightdeck.ledger.persist import write_batch
from flightdeck.ledger.record import UsageRecord
from flightdeck.ledger.spool import Spool

log = logging.getLogger("flightdeck.ledger")

MAX_RETRY_SECONDS = 5.0
KEEP_IN_MEMORY = 200_000  # records of pending segments kept in memory; beyond, re-read from disk


@dataclass
class _Segment:
    path: Path
    records: list[UsageRecord] | None


class LedgerWriter:
    """Buffers usage records off the request path: spool, then batched writes to the database."""

    def __init__(
        self,
        engine: AsyncEngine,
        spool: Spool,
        *,
        flush_interval: float = 1.0,
        batch_size: int = 500,
        write_timeout: float = 10.0,
        durable: bool = False,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.write_timeout = write_timeout
        self.durable = durable
        self._buffer: list[UsageRecord] = []
        self._synced: asyncio.Future[None] | None = None  # resolved when the buffer is on disk
        self._pending: list[_Segment] = []
        self._in_memory = 0
        self._wake = asyncio.Event()
        self._drain_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._spool_lock = asyncio.Lock()
        self._drain_lock = asyncio.Lock()
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self.written = 0
        self.db_down_since: float | None = None
        self.last_error: str | None = None

    async def start(self) -> None:
        waiting = await asyncio.to_thread(self.spool.open)
        if waiting:
            log.info("replaying %d ledger spool segment(s)", len(waiting))
        self._pending = [_Segment(p, None) for p in waiting]
        self._tasks = [
            asyncio.create_task(self._spool_loop(), name="ledger-spool"),
            asyncio.create_task(self._drain_loop(), name="ledger-drain"),
        ]
        self._drain_wake.set()

    def record(self, record: UsageRecord) -> None:
        """Queue one record; it is on disk within ``flush_interval``."""
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    async def commit(self, record: UsageRecord) -> None:
        """Queue one record; when ``durable``, wait until it is fsynced to the spool.

        The wait is bounded by ``write_timeout``: a spool that cannot be written (disk full)
        delays replies by that much, then they go out and the record stays buffered.
        """
        self.record(record)
        if not self.durable or not self._tasks:
            return
        if self._synced is None:
            self._synced = asyncio.get_running_loop().create_future()
        synced = self._synced
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(synced), self.write_timeout)
        except TimeoutError:
            log.warning(
                "ledger: spool not written within %.1f s; replying anyway", self.write_timeout
            )

    async def _spool_loop(self) -> None:
        # Never waits on the database, so the flush-interval promise holds during an outage.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.spool_buffer()
            except Exception:  # e.g. disk full: keep the records buffered, try again
                log.exception("ledger: writing the spool failed")

    async def _drain_loop(self) -> None:
        while True:
            delay = max(self._retry_at - time.monotonic(), 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain_wake.wait(), self.flush_interval)
            self._drain_wake.clear()
            try:
                async with self._drain_lock:
                    await self._drain()
            except Exception:
                log.exception("ledger: draining the spool failed")

    async def spool_buffer(self) -> None:
        """Write what is buffered to a new fsynced spool segment."""
        async with self._spool_lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            synced, self._synced = self._synced, None
            try:
                path = await asyncio.to_thread(self.spool.append, batch)
            except BaseException:
                self._buffer[:0] = batch
                self._synced = self._synced or synced  # its waiters wait for the next try
                raise
            if synced is not None and not synced.done():
                synced.set_result(None)
            keep = batch if self._in_memory + len(batch) <= KEEP_IN_MEMORY else None
            self._in_memory += len(batch) if keep else 0
            self._pending.append(_Segment(path, keep))
            self._drain_wake.set()

    async def flush(self) -> None:
        """Spool the buffer and write every pending segment to the database now."""
        await self.spool_buffer()
        async with self._drain_lock:
            self._retry_at = 0.0
            await self._drain()

    async def _drain(self) -> None:
        while self._pending and time.monotonic() >= self._retry_at:
            # Small segments (one per fsync with sync_before_reply) go together, up to a batch,
            # in one transaction: one commit per segment fell behind the traffic.
            segments: list[_Segment] = []
            records: list[UsageRecord] = []
            for segment in self._pending:
                if segments and len(records) >= self.batch_size:
                    break
                segments.append(segment)
                if segment.records is None:
                    records += await asyncio.to_thread(self.spool.read, segment.path)
                else:
                    records += segment.records
            try:
                async with asyncio.timeout(self.write_timeout), self.engine.begin() as conn:
                    self.written += await write_batch(conn, records, self.batch_size)
            except Exception as exc:  # database unreachable or failing: keep the segments
                self._database_failed(exc)
                return
            for segment in segments:
                self._pending.remove(segment)
                if segment.records is not None:
                    self._in_memory -= len(segment.records)
                await asyncio.to_thread(self.spool.remove, segment.path)
        if self._pending:
            return
        if self.db_down_since is not None:
            log.warning(
                "ledger database reachable again after %.1f s; backlog written",
                time.monotonic() - self.db_down_since,
            )
        self.db_down_since = None
        self._retry_delay = 0.0

    def _database_failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.db_down_since is None:
            self.db_down_since = time.monotonic()
            log.warning("ledger database write failed (%s); spooling to disk", type(exc).__name__)
        self._retry_delay = min(max(self._retry_delay * 2, self.flush_interval), MAX_RETRY_SECONDS)
        self._retry_at = time.monotonic() + self._retry_delay

    def backlog(self) -> tuple[int, float]:
        """For metrics: usage records not yet in the database (buffered, or spooled and held in
        memory), and seconds since the database stopped taking them (0 while it does)."""
        pending = sum(len(s.records) for s in self._pending if s.records is not None)
        lag = 0.0 if self.db_down_since is None else time.monotonic() - self.db_down_since
        return len(self._buffer) + pending, lag

    def health(self) -> dict[str, object]:
        pending = sum(len(s.records) for s in self._pending if s.records is not None)
        state = "ok" if self.db_down_since is None else "spooling"
        return {
            "state": state,
            "pending_segments": len(self._pending),
            "pending_records_in_memory": pending,
            "buffered": len(self._buffer),
            "last_error": self.last_error if state != "ok" else None,
        }

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Spool everything and try the database once more; what is left waits on disk."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await self.spool_buffer()
            async with asyncio.timeout(grace_seconds):
                await self.flush()
        except TimeoutError:
            log.warning("ledger: database not reached on shutdown; records stay in the spool")
        finally:
            self.spool.close()
