"""Reading SOURCE: manifests (CSV, TSV, JSONL, Parquet), local folders and lists of videos.

Every reader streams: it yields :class:`SourceRecord` objects one block at a time and never
holds the whole input, so a manifest of millions of rows plans in bounded memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flightdeck.media.errors import SourceError

URL_COLUMNS = ("url", "image_url", "URL", "path", "file", "filepath", "image", "video")
MAX_CAPTION_BYTES = 16 * 1024  # of a sidecar caption file
CAPTION_COLUMNS = ("caption", "alt", "alt_text", "text", "TEXT", "title")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
MANIFEST_EXTENSIONS = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".parquet"})
_BLOCK_ROWS = 4096


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One input: where to get it, its caption and the manifest's other columns (JSON)."""

    index: int
    location: str
    caption: str | None = None
    metadata: str = "{}"

    @property
    def doc_id(self) -> str:
        return document_id(self.location)

    @property
    def is_video(self) -> bool:
        return Path(urlsplit(self.location).path).suffix.lower() in VIDEO_EXTENSIONS


def canonical_location(location: str) -> str:
    """The form a document id is computed from: lower-case scheme and host, no fragment,
    no default port; local paths made absolute."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        host = (parts.hostname or "").lower()
        port = parts.port
        if port is not None and (parts.scheme, port) not in (("http", 80), ("https", 443)):
            host = f"{host}:{port}"
        return urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    if parts.scheme == "file":
        return Path(parts.path).resolve().as_posix()
    if parts.scheme and len(parts.scheme) > 1:  # s3://, gs://, ... kept as written
        return location
    return Path(location).resolve().as_posix()


def document_id(location: str) -> str:
    """Stable document id: the first 128 bits of SHA-256 of the canonical location, in hex."""
    return hashlib.sha256(canonical_location(location).encode()).hexdigest()[:32]


def derived_id(parent_id: str, suffix: str) -> str:
    """Id of a document derived from another, such as a keyframe of a video."""
    return hashlib.sha256(f"{parent_id}#{suffix}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Source:
    """What SOURCE names: one manifest, one folder, or a list of video (or image) files."""

    paths: tuple[str, ...]
    url_column: str | None = None
    caption_column: str | None = None

    @property
    def key(self) -> str:
        """Names this source's shards, so rerunning the same command finds its own work."""
        joined = "\n".join(canonical_location(p) for p in self.paths)
        return hashlib.sha256(joined.encode()).hexdigest()[:12]

    def records(self) -> Iterator[SourceRecord]:
        """Every input, in a stable order, streamed."""
        if len(self.paths) == 1:
            only = self.paths[0]
            if _is_local_dir(only):
                yield from _folder_records(Path(only))
                return
            if _suffix(only) in MANIFEST_EXTENSIONS:
                yield from self._manifest_records(only)
                return
        for index, path in enumerate(self.paths):
            if _suffix(path) not in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS:
                raise SourceError(
                    f"SOURCE {path!r} is not a manifest (.csv, .tsv, .jsonl, .parquet), "
                    "a folder, or a video/image file"
                )
            yield SourceRecord(index, _absolute(path))

    def _manifest_records(self, path: str) -> Iterator[SourceRecord]:
        base = os.path.dirname(_absolute(path)) if "://" not in path else None
        index = 0
        for columns in _manifest_blocks(path):
            url_col = self.url_column or _pick(columns, URL_COLUMNS)
            if url_col is None or url_col not in columns:
                raise SourceError(
                    f"manifest {path!r} has no URL or path column "
                    f"(looked for {', '.join(URL_COLUMNS)}; pass --url-col)"
                )
            cap_col = self.caption_column or _pick(columns, CAPTION_COLUMNS)
            captions = columns.get(cap_col) if cap_col else None
            extra = [name for name in columns if name not in (url_col, cap_col)]
            locations = columns[url_col]
            for i, raw in enumerate(locations):
                location = str(raw or "").strip()
                if base and location and "://" not in location and not location.startswith("/"):
                    location = os.path.join(base, location)
                caption = None if captions is None or captions[i] is None else str(captions[i])
                meta = {n: columns[n][i] for n in extra if columns[n][i] is not None}
                metadata = json.dumps(meta, sort_keys=True, default=str) if meta else "{}"
                yield SourceRecord(index, location, caption, metadata)
                index += 1


def open_source(
    paths: Sequence[str], url_column: str | None = None, caption_column: str | None = None
) -> Source:
    """Validate SOURCE and return a :class:`Source`; a one-line error if it cannot be read."""
    if not paths:
        raise SourceError("no SOURCE given")
    for path in paths:
        if "://" in path and not path.startswith("file://"):
            continue
        local = path.removeprefix("file://")
        if not os.path.exists(local):
            raise SourceError(f"SOURCE {path!r} does not exist")
    source = Source(tuple(paths), url_column, caption_column)
    next(iter(source.records()), None)  # fail now on a bad header, not mid-run
    return source


Columns = dict[str, list[Any]]


def _manifest_blocks(path: str) -> Iterator[Columns]:
    """The manifest as blocks of columns (name -> values), a few thousand rows at a time."""
    suffix = _suffix(path)
    if suffix == ".parquet":
        yield from _parquet_blocks(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_blocks(path)
    else:
        yield from _csv_blocks(path, "\t" if suffix == ".tsv" else ",")


def _csv_blocks(path: str, delimiter: str) -> Iterator[Columns]:
    with fsspec.open(path, "rb") as raw:
        header_line = raw.readline().decode("utf-8-sig")
    if not header_line.strip():
        return
    names = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    options = {
        "read_options": pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 20),
        "parse_options": pacsv.ParseOptions(delimiter=delimiter),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True
        ),
    }
    local = "://" not in path or path.startswith("file://")
    if local:  # Arrow's own file reader: no Python-side buffers
        yield from _batches_as_columns(pacsv.open_csv(path.removeprefix("file://"), **options))
        return
    with fsspec.open(path, "rb") as remote:
        yield from _batches_as_columns(pacsv.open_csv(remote, **options))


def _batches_as_columns(batches: Iterable[pa.RecordBatch]) -> Iterator[Columns]:
    for batch in batches:
        yield {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}


def _jsonl_blocks(path: str) -> Iterator[Columns]:
    block: list[dict[str, Any]] = []
    with fsspec.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise SourceError(f"{path}: line {number} is not a JSON object")
            block.append(row)
            if len(block) >= _BLOCK_ROWS:
                yield _rows_as_columns(block)
                block = []
    if block:
        yield _rows_as_columns(block)


def _rows_as_columns(rows: list[dict[str, Any]]) -> Columns:
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: [row.get(name) for row in rows] for name in names}


def _parquet_blocks(path: str) -> Iterator[Columns]:
    with fsspec.open(path, "rb") as raw:
        yield from _batches_as_columns(pq.ParquetFile(raw).iter_batches(batch_size=_BLOCK_ROWS))


def _folder_records(root: Path) -> Iterator[SourceRecord]:
    """Every image and video under ``root``; a sidecar ``NAME.txt`` (as img2dataset writes and
    most captioned datasets ship) is the caption of ``NAME.jpg``."""
    index = 0
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        names = set(files)
        for name in sorted(files):
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
                path = Path(directory, name).resolve()
                meta = json.dumps({"relative_path": path.relative_to(root.resolve()).as_posix()})
                sidecar = Path(name).stem + ".txt"
                caption = _read_caption(Path(directory, sidecar)) if sidecar in names else None
                yield SourceRecord(index, path.as_posix(), caption, meta)
                index += 1


def _read_caption(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            text = f.read(MAX_CAPTION_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text or None


def _pick(row: Mapping[str, Any], candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if c in row), None)


def _suffix(path: str) -> str:
    return Path(urlsplit(path).path).suffix.lower()


def _is_local_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def _absolute(path: str) -> str:
    return (
        Path(path.removeprefix("file://")).resolve().as_posix()
        if "://" not in path or path.startswith("file://")
        else path
    )
