"""Reading SOURCE: manifests (CSV, TSV, JSONL, Parquet), local folders and lists of videos.

Every reader streams: it yields :class:`SourceRecord` objects one block at a time and never
holds the whole input, so a manifest of millions of rows plans in bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flightdeck.media.errors import SourceError
from flightdeck.media.manifests import count_rows, is_local, manifest_rows

URL_COLUMNS = ("url", "image_url", "URL", "path", "file", "filepath", "image", "video")
MAX_CAPTION_BYTES = 16 * 1024  # of a sidecar caption file
CAPTION_COLUMNS = ("caption", "alt", "alt_text", "text", "TEXT", "title")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
MANIFEST_EXTENSIONS = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".parquet"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+._-]+:")  # two letters or more: not a drive letter


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One input: where to get it, its caption and the manifest's other columns (JSON)."""

    index: int
    location: str
    caption: str | None = None
    metadata: str = "{}"
    problem: str | None = None  # a malformed manifest row: why, with its line number
    version: str | None = None  # local files: "size:mtime_ns" when planned ("missing": none)

    @property
    def doc_id(self) -> str:
        return document_id(self.location)

    @property
    def fingerprint(self) -> str:
        """What a rerun compares to tell a changed input from an unchanged one: the location,
        caption, metadata and, for local files, size and modification time (16 hex digits)."""
        parts = (self.location, self.caption or "", self.metadata, self.version or "")
        joined = "\x1f".join((*parts, self.problem or ""))
        return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def is_video(self) -> bool:
        return _suffix(self.location) in VIDEO_EXTENSIONS


def canonical_location(location: str) -> str:
    """The form a document id is computed from: lower-case scheme and host, no fragment,
    no default port; local paths made absolute."""
    try:
        return _canonical(location)
    except ValueError:  # a malformed URL (bad IPv6 literal, port, NUL): the id of the text
        return location


def _canonical(location: str) -> str:
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
    canonical = canonical_location(location).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()[:32]


def derived_id(parent_id: str, suffix: str) -> str:
    """Id of a document derived from another, such as a keyframe of a video."""
    return hashlib.sha256(f"{parent_id}#{suffix}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
            location = _absolute(path)
            version = _file_version(location) if is_local(path) else None
            yield SourceRecord(index, location, version=version)

    @property
    def is_local(self) -> bool:
        """True when every SOURCE path is on this machine: only then may its inputs be
        local paths (a remote manifest naming ``/etc/...`` is refused at fetch)."""
        return all(is_local(path) for path in self.paths)

    def count(self) -> int | None:
        """About how many inputs there are, when that is cheap to know (a folder walk, a
        Parquet footer, the lines of a local manifest); None otherwise."""
        if len(self.paths) == 1:
            only = self.paths[0]
            if _is_local_dir(only):
                return sum(1 for _ in _media_files(Path(only)))
            if _suffix(only) in MANIFEST_EXTENSIONS:
                return count_rows(only)
        return len(self.paths)

    def _manifest_records(self, path: str) -> Iterator[SourceRecord]:
        base = os.path.dirname(_absolute(path)) if is_local(path) else None
        url_col: str | None = None
        cap_col: str | None = None
        for index, row in enumerate(manifest_rows(path)):
            if row.problem is not None:
                yield SourceRecord(index, f"{path}#line={row.line}", problem=row.problem)
                continue
            values = row.values
            if url_col is None:  # the first readable row (the header of a CSV) decides
                url_col = self.url_column or _pick(values, URL_COLUMNS)
                if url_col is None or (self.url_column and url_col not in values):
                    raise SourceError(
                        f"manifest {path!r} has no URL or path column "
                        f"(looked for {', '.join(URL_COLUMNS)}; pass --url-col)"
                    )
                cap_col = self.caption_column or _pick(values, CAPTION_COLUMNS)
            yield _manifest_record(index, f"{path}#line={row.line}", values, url_col, cap_col, base)


def _manifest_record(
    index: int,
    where: str,
    values: Mapping[str, Any],
    url_col: str,
    cap_col: str | None,
    base: str | None,
) -> SourceRecord:
    raw = values.get(url_col)
    location = storable_text(raw).strip() if raw is not None else ""
    if not location:
        line = where.rpartition("#line=")[2]
        return SourceRecord(index, where, problem=f"line {line}: no {url_col!r} value")
    version = None
    if base is not None and not _SCHEME.match(location):
        location = os.path.join(base, location)  # relative to the manifest; absolute kept
        version = _file_version(location)
    elif location.startswith("file://") and base is not None:
        version = _file_version(location.removeprefix("file://"))
    caption = values.get(cap_col) if cap_col else None
    extra = {n: v for n, v in values.items() if n not in (url_col, cap_col) and v is not None}
    metadata = json.dumps(extra, sort_keys=True, default=str) if extra else "{}"
    return SourceRecord(
        index,
        location,
        None if caption is None else storable_text(caption),
        metadata,
        version=version,
    )


def storable_text(value: object) -> str:
    """``value`` as text that Parquet can store: UTF-8, so a lone surrogate (from a JSON
    ``\\ud800`` escape, or a file name that is not UTF-8, which Python decodes with
    ``surrogateescape``) becomes ``?``. ASCII text is returned as it is."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def local_version(location: str) -> str | None:
    """``size:mtime_ns`` of a local path or ``file://`` URL (``missing`` when absent), for
    :attr:`SourceRecord.version`; None for a URL."""
    if location.startswith("file://"):
        return _file_version(location.removeprefix("file://"))
    return None if _SCHEME.match(location) else _file_version(location)


def _file_version(path: str) -> str:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return "missing"
    return f"{info.st_size}:{info.st_mtime_ns}"


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


def _media_files(root: Path) -> Iterator[tuple[str, str, set[str]]]:
    """(directory, name, names in that directory) of every image and video under ``root``,
    directories and names sorted."""
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        names = set(files)
        for name in sorted(files):
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
                yield directory, name, names


def _folder_records(root: Path) -> Iterator[SourceRecord]:
    """Every image and video under ``root``; a sidecar ``NAME.txt`` (as img2dataset writes and
    most captioned datasets ship) is the caption of ``NAME.jpg``."""
    resolved = root.resolve()
    for index, (directory, name, names) in enumerate(_media_files(root)):
        path = Path(directory, name).resolve()
        meta = json.dumps({"relative_path": path.relative_to(resolved).as_posix()})
        sidecar = Path(name).stem + ".txt"
        caption = _read_caption(Path(directory, sidecar)) if sidecar in names else None
        yield SourceRecord(index, path.as_posix(), caption, meta, version=_file_version(str(path)))


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
    try:
        return Path(urlsplit(path).path).suffix.lower()
    except ValueError:
        return ""


def _is_local_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def _absolute(path: str) -> str:
    return (
        Path(path.removeprefix("file://")).resolve().as_posix()
        if "://" not in path or path.startswith("file://")
        else path
    )
