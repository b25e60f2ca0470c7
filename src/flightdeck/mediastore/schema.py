"""The documented schema of a shard: one row per document (see docs/media.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pyarrow as pa


class Status(StrEnum):
    """What became of a document: ``ok``, ``duplicate`` or ``failed``."""

    OK = "ok"  # decoded; thumbnail and hashes present
    DUPLICATE = "duplicate"  # same bytes or near-same picture as ``duplicate_of``
    FAILED = "failed"  # ``error`` says why


class Kind(StrEnum):
    """What a row holds: an image, a video, or one keyframe of a video."""

    IMAGE = "image"
    VIDEO = "video"
    KEYFRAME = "keyframe"


SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("input_index", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("timestamp_s", pa.float64()),
        pa.field("caption", pa.string()),
        pa.field("metadata", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("error_detail", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("sha256", pa.string()),
        pa.field("phash", pa.uint64()),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_distance", pa.int32()),
        pa.field("thumbnail", pa.binary()),
        pa.field("thumbnail_format", pa.string()),
        pa.field("thumbnail_width", pa.int32()),
        pa.field("thumbnail_height", pa.int32()),
        pa.field("text_embedding", pa.list_(pa.float32())),
        pa.field("image_embedding", pa.list_(pa.float32())),
        pa.field("clip_text_embedding", pa.list_(pa.float32())),
    ]
)

COLUMNS = tuple(SCHEMA.names)
Row = dict[str, Any]


def to_table(rows: list[Row]) -> pa.Table:
    """Rows (dicts with any subset of the columns) as a table of exactly :data:`SCHEMA`."""
    return pa.Table.from_pylist(rows, schema=SCHEMA)
