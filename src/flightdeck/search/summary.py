"""What a collection's store holds, cheaply: documents by status and which embeddings exist.

Statuses come from the ``status`` column; embedding counts from the Parquet footers (values and
nulls of each embedding column), so describing a store of millions of documents reads a few
kilobytes per shard plus one shard's embedding column to learn each embedding's size.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightdeck.mediastore.store import MediaStore

EMBEDDING_COLUMNS = {
    "text": "text_embedding",
    "image": "image_embedding",
    "clip_text": "clip_text_embedding",
}


def _present_values(media: MediaStore, shard: str) -> dict[str, int]:
    """Non-null embedding floats per embedding column of one shard, from its footer."""
    with media.fs.open(f"{media.root}/{media.shards[shard].file}", "rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    present = dict.fromkeys(EMBEDDING_COLUMNS.values(), 0)
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            column = chunk.path_in_schema.split(".", 1)[0]
            if column in present:
                stats = chunk.statistics
                nulls = stats.null_count if stats is not None and stats.has_null_count else 0
                present[column] += chunk.num_values - nulls
    return present


def _dimensions(media: MediaStore, shard: str, column: str) -> int:
    values = media.read_shard(shard, [column])[column].drop_null()
    lengths = pc.list_value_length(values)
    return int(pc.max(lengths).as_py() or 0)


def describe_store(media: MediaStore) -> dict[str, Any]:
    """``{"shards", "documents": {"total", "ok", "duplicate", "failed"}, "embeddings"}``."""
    statuses: Counter[str] = Counter()
    floats = dict.fromkeys(EMBEDDING_COLUMNS.values(), 0)
    first_with: dict[str, str] = {}
    for shard in sorted(media.shards):
        statuses.update(media.read_shard(shard, ["status"])["status"].to_pylist())
        for column, count in _present_values(media, shard).items():
            floats[column] += count
            if count and column not in first_with:
                first_with[column] = shard
    embeddings: dict[str, Any] = {}
    for name, column in EMBEDDING_COLUMNS.items():
        if column not in first_with:
            embeddings[name] = None
            continue
        dims = _dimensions(media, first_with[column], column)
        embeddings[name] = {"dimensions": dims, "documents": floats[column] // max(dims, 1)}
    return {
        "shards": len(media.shards),
        "documents": {
            "total": sum(statuses.values()),
            "ok": statuses.get("ok", 0),
            "duplicate": statuses.get("duplicate", 0),
            "failed": statuses.get("failed", 0),
        },
        "embeddings": embeddings,
    }
