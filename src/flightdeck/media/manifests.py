"""Manifest readers: CSV, TSV, JSONL and Parquet, streamed row by row with their line numbers.

CSV and TSV follow RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180): quoted fields may hold
delimiters, doubled quotes and line breaks, at any size of file. They are read with Python's
``csv`` module, not pyarrow's block reader: pyarrow splits blocks at line breaks, which breaks
on quoted line breaks unless ``newlines_in_values=True``, and even then it cannot say on which
line a bad row is, refuses rows larger than a block, and stops the whole file at the first
undecodable row. Measured on 1,000,000 rows (55 MB, every tenth caption on two lines):
pyarrow with ``newlines_in_values`` 1.6 s, ``csv`` 2.8 s; either is far below what fetching
that many images takes.

A row that cannot be read (wrong number of fields, a quote left open, a field over 128 KiB, a
JSONL line that is not a JSON object) is yielded with its ``problem`` and line number, so it
becomes that input's failure row; the rest of the manifest is read on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from flightdeck.media.errors import SourceError

_BLOCK_ROWS = 4096
_COUNT_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One row: where it starts (line number, or row number for Parquet; from 1), its values
    by column name, or why it cannot be read (then ``values`` is empty)."""

    line: int
    values: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


def manifest_rows(path: str) -> Iterator[ManifestRow]:
    """Every row of the manifest at ``path`` (local or fsspec URL), in file order, streamed.
    Raises :class:`SourceError` only when the file as a whole cannot be read."""
    suffix = _suffix(path)
    try:
        if suffix == ".parquet":
            yield from _parquet_rows(path)
        elif suffix in (".jsonl", ".ndjson"):
            yield from _jsonl_rows(path)
        else:
            yield from _csv_rows(path, "\t" if suffix == ".tsv" else ",")
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"manifest {path!r} cannot be read: {exc}") from exc


def count_rows(path: str) -> int | None:
    """About how many rows the manifest at ``path`` has, cheaply: Parquet's footer, or the
    lines of a local CSV/TSV/JSONL (quoted line breaks make it an over-estimate). None for a
    remote text manifest (counting would read it twice)."""
    if _suffix(path) == ".parquet":
        with fsspec.open(path, "rb") as raw:
            rows: int = pq.ParquetFile(raw).metadata.num_rows
        return rows
    if not is_local(path):
        return None
    lines = last = 0
    with open(_local(path), "rb") as handle:
        while chunk := handle.read(_COUNT_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1]
    if last not in (0, ord("\n")):
        lines += 1
    header = 0 if _suffix(path) in (".jsonl", ".ndjson") else 1
    return max(0, lines - header)


def _open_text(path: str) -> IO[str]:
    # newline="" as the csv module requires; undecodable bytes become U+FFFD, never an error.
    if is_local(path):
        return open(_local(path), encoding="utf-8-sig", errors="replace", newline="")
    opened: IO[str] = fsspec.open(
        path, "rt", encoding="utf-8-sig", errors="replace", newline=""
    ).open()
    return opened


def _csv_rows(path: str, delimiter: str) -> Iterator[ManifestRow]:
    with _open_text(path) as text:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if header is None:
                    raise SourceError(
                        f"{path}: line {start}: the header is not CSV ({exc})"
                    ) from exc
                yield ManifestRow(start, problem=f"line {start}: {exc}")
                continue
            if not fields:
                continue  # a blank line
            if header is None:
                header = [name.strip() for name in fields]
                continue
            if len(fields) != len(header):
                problem = f"line {start}: {len(fields)} fields, the header has {len(header)}"
                yield ManifestRow(start, problem=problem)
                continue
            yield ManifestRow(start, {n: v or None for n, v in zip(header, fields, strict=True)})


def _jsonl_rows(path: str) -> Iterator[ManifestRow]:
    with _open_text(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                yield ManifestRow(number, problem=f"line {number}: not JSON ({exc})")
                continue
            if not isinstance(row, dict):
                yield ManifestRow(number, problem=f"line {number}: not a JSON object")
                continue
            yield ManifestRow(number, row)


def _parquet_rows(path: str) -> Iterator[ManifestRow]:
    number = 0
    with fsspec.open(path, "rb") as raw:
        for batch in pq.ParquetFile(raw).iter_batches(batch_size=_BLOCK_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield ManifestRow(number, row)


def is_local(path: str) -> bool:
    """True for a local path or ``file://`` URL (not an fsspec URL such as ``s3://``)."""
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _suffix(path: str) -> str:
    return Path(urlsplit(path).path).suffix.lower()
