"""The store: sharded Parquet files plus a checksummed manifest of completed shards.

Layout under STORE (a local folder or any fsspec URL)::

    manifest.json              {"version", "shards": {name: entry}, "checksum"}
    shards/NAME.parquet        one shard, schema in flightdeck.mediastore.schema
    shards/NAME.stats.json     counts, failures by reason, bytes, seconds
    tmp/                       files being written; never read

A shard counts as written only once the manifest lists it. Files are written under tmp/ and
renamed into place, then the manifest is rewritten the same way; a run killed at any moment
leaves either the old manifest or the new one, and orphan files are removed on the next open.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from flightdeck.mediastore.errors import StoreError
from flightdeck.mediastore.schema import SCHEMA, Row

MANIFEST = "manifest.json"
_VERSION = 1
_COMPRESSION: dict[str, str] = {name: "zstd" for name in SCHEMA.names} | {"thumbnail": "none"}


@dataclass(frozen=True)
class ShardEntry:
    """One completed shard, as the manifest records it."""

    file: str
    stats_file: str
    rows: int
    bytes: int
    sha256: str
    source_key: str


class MediaStore:
    """Reads and writes one store; one writer at a time, any number of readers."""

    def __init__(self, url: str) -> None:
        self.url = url
        fs, root = fsspec.core.url_to_fs(url)
        self.fs: fsspec.AbstractFileSystem = fs
        self.root = root.rstrip("/")
        self.shards: dict[str, ShardEntry] = {}

    @classmethod
    def open(cls, url: str) -> MediaStore:
        """Open for reading; never changes the store (safe while a writer runs)."""
        store = cls(url)
        if not store.fs.exists(store._path(MANIFEST)):
            raise StoreError(f"STORE {url!r} has no {MANIFEST}; nothing was ingested there")
        store._load_manifest()
        return store

    @classmethod
    def open_writer(cls, url: str, *, create: bool = True) -> MediaStore:
        """Open as the one writer: create if asked, and delete what a killed run left behind."""
        store = cls(url)
        if not store.fs.exists(store._path(MANIFEST)):
            if not create:
                raise StoreError(f"STORE {url!r} has no {MANIFEST}; nothing was ingested there")
            store.fs.makedirs(store._path("shards"), exist_ok=True)
            store._write_manifest()
        store._load_manifest()
        store._remove_orphans()
        return store

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def _load_manifest(self) -> None:
        try:
            document = json.loads(self.fs.cat_file(self._path(MANIFEST)))
            shards = document["shards"]
            checksum = document["checksum"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self._path(MANIFEST)} is not a Flightdeck media manifest") from exc
        if _checksum(shards) != checksum:
            raise StoreError(f"{self._path(MANIFEST)} fails its checksum; the store is corrupt")
        self.shards = {name: ShardEntry(**entry) for name, entry in shards.items()}

    def _write_manifest(self) -> None:
        shards = {name: asdict(entry) for name, entry in sorted(self.shards.items())}
        document = {"version": _VERSION, "shards": shards, "checksum": _checksum(shards)}
        self._write_atomic(MANIFEST, json.dumps(document, indent=1).encode())

    def _write_atomic(self, relative: str, data: bytes) -> None:
        self.fs.makedirs(self._path("tmp"), exist_ok=True)
        temporary = self._path("tmp", f"{uuid.uuid4().hex}.part")
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, self._path(relative))

    def _remove_orphans(self) -> None:
        listed = {e.file for e in self.shards.values()} | {
            e.stats_file for e in self.shards.values()
        }
        for path in self.fs.ls(self._path("shards"), detail=False):
            relative = "shards/" + str(path).rstrip("/").rsplit("/", 1)[-1]
            if relative not in listed:
                self.fs.rm(path)
        if self.fs.exists(self._path("tmp")):
            self.fs.rm(self._path("tmp"), recursive=True)

    def commit_shard(
        self, name: str, table: pa.Table, stats: dict[str, Any], source_key: str
    ) -> ShardEntry:
        """Write one shard and its stats atomically, then list it in the manifest."""
        return self.commit_shards({name: (table, stats, source_key)})[name]

    def commit_shards(
        self,
        shards: dict[str, tuple[pa.Table, dict[str, Any], str]],
        remove: Sequence[str] = (),
    ) -> dict[str, ShardEntry]:
        """Write shards (name -> table, stats, source key) and drop the shards ``remove``,
        in one manifest update: a run killed at any moment leaves all of it or none."""
        entries = {name: self._write_shard(name, *shard) for name, shard in shards.items()}
        previous = [self.shards[n] for n in (*shards, *remove) if n in self.shards]
        self.shards.update(entries)
        for name in remove:
            self.shards.pop(name, None)
        self._write_manifest()
        listed = {e.file for e in self.shards.values()}
        stale = [e for e in previous if e.file not in listed]  # replaced or removed shards
        if stale:
            self.fs.rm([self._path(p) for e in stale for p in (e.file, e.stats_file)])
        return entries

    def _write_shard(
        self, name: str, table: pa.Table, stats: dict[str, Any], source_key: str
    ) -> ShardEntry:
        buffer = io.BytesIO()
        pq.write_table(table.cast(SCHEMA), buffer, compression=_COMPRESSION)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        version = digest[:8]
        entry = ShardEntry(
            file=f"shards/{name}.{version}.parquet",
            stats_file=f"shards/{name}.{version}.stats.json",
            rows=table.num_rows,
            bytes=len(data),
            sha256=digest,
            source_key=source_key,
        )
        self._write_atomic(entry.file, data)
        self._write_atomic(entry.stats_file, json.dumps(stats, indent=1, sort_keys=True).encode())
        return entry

    def read_shard(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Shard ``name`` (only ``columns`` when given). Columns that a shard written by an
        older version lacks (``fingerprint``) come back as nulls."""
        entry = self.shards[name]
        try:
            with self.fs.open(self._path(entry.file), "rb") as handle:
                parquet = pq.ParquetFile(handle)
                present = set(parquet.schema_arrow.names)
                wanted = list(columns) if columns else list(SCHEMA.names)
                table = parquet.read(columns=[c for c in wanted if c in present])
        except (FileNotFoundError, pa.ArrowInvalid) as exc:
            raise StoreError(
                f"shard {entry.file} listed in {MANIFEST} is missing or unreadable: {exc}"
            ) from exc
        for column in wanted:
            if column not in present:
                field = SCHEMA.field(column)
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        return table.select(wanted)

    def iter_rows(self, columns: Sequence[str]) -> Iterator[Row]:
        """Rows of every shard, only ``columns``, one shard in memory at a time."""
        for name in sorted(self.shards):
            yield from self.read_shard(name, columns).to_pylist()

    def read_all(self) -> pa.Table:
        """Every shard as one table, in shard order (for tests and small stores)."""
        tables = [self.read_shard(name) for name in sorted(self.shards)]
        return pa.concat_tables(tables) if tables else SCHEMA.empty_table()

    def stats(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.fs.cat_file(self._path(self.shards[name].stats_file))
        )
        return result

    def verify(self) -> list[str]:
        """Names of shards whose file is missing or fails its checksum."""
        bad = []
        for name, entry in sorted(self.shards.items()):
            try:
                data = self.fs.cat_file(self._path(entry.file))
            except FileNotFoundError:
                bad.append(name)
                continue
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                bad.append(name)
        return bad


def _checksum(shards: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(shards, sort_keys=True).encode()).hexdigest()
