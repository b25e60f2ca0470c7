"""The durable local spool: records are on disk (fsynced) before the database sees them.

Each flush writes one segment file ``<n>.jsonl``; a segment is deleted only after all its records
are committed to the database. On start, segments left by a crash or an outage are replayed;
records are idempotent (``record_id``), so a segment replayed twice is stored once. A torn last
line (``kill -9`` mid-write) is skipped.

Several processes may share a spool directory: each takes the first free ``slot-<n>``
subdirectory (held with an flock), and adopts the segments of slots whose owner is gone, so
nothing waits for a process that never comes back.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import orjson

from flightdeck.core.errors import ConfigError
from flightdeck.ledger.record import UsageRecord

log = logging.getLogger("flightdeck.ledger")


MAX_SLOTS = 64


def _private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) as 0700, and narrow an existing one of ours to 0700:
    segments hold tenants, users and costs."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o700)


def _try_lock(slot: Path) -> int | None:
    """An flock on ``slot/.lock``, or None if another process holds it."""
    _private_dir(slot)
    fd = os.open(slot / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Spool:
    """An fsynced on-disk spool of usage records not yet in the database, one slot per process."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.directory = base  # the slot this process owns, once open
        self._lock_fd: int | None = None
        self._next = 0

    def open(self) -> list[Path]:
        """Take a free slot and adopt orphaned ones; returns the segments waiting to be written."""
        _private_dir(self.base)
        for n in range(MAX_SLOTS):
            fd = _try_lock(self.base / f"slot-{n}")
            if fd is not None:
                self.directory, self._lock_fd = self.base / f"slot-{n}", fd
                break
        else:
            raise ConfigError(f"ledger spool {self.base}: all {MAX_SLOTS} slots are in use")
        waiting = self.segments()
        self._next = max((int(p.stem) for p in waiting), default=0) + 1
        for other in sorted(self.base.glob("slot-*")):
            if other != self.directory:
                self._adopt(other)
        return self.segments()

    def _adopt(self, slot: Path) -> None:
        fd = _try_lock(slot)
        if fd is None:
            return  # its owner is alive
        try:
            found = [p for p in slot.glob("*.jsonl") if p.stem.isdigit()]
            for path in sorted(found, key=lambda p: int(p.stem)):
                path.rename(self.directory / f"{self._next:012d}.jsonl")
                self._next += 1
            if found:
                log.info("ledger: adopted %d segment(s) from %s", len(found), slot.name)
                self._sync_directory()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def segments(self) -> list[Path]:
        found = [p for p in self.directory.glob("*.jsonl") if p.stem.isdigit()]
        return sorted(found, key=lambda p: int(p.stem))

    def append(self, records: list[UsageRecord]) -> Path:
        """Write one segment and fsync it (and the directory) before returning."""
        path = self.directory / f"{self._next:012d}.jsonl"
        self._next += 1
        data = b"".join(orjson.dumps(r.to_json()) + b"\n" for r in records)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._sync_directory()
        return path

    def read(self, path: Path) -> list[UsageRecord]:
        records = []
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            try:
                records.append(UsageRecord.from_json(orjson.loads(line)))
            except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
                log.warning("skipping unreadable line %d of %s (torn write?)", number, path.name)
        return records

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
