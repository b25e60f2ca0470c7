"""What one version of a store looks like to search: its searchable documents and indexes.

Only ``status == ok`` documents are searchable. Duplicates are not indexed; they are linked to
the document they duplicate, so a hit can list them. A snapshot is immutable: when the store's
manifest changes, a new snapshot is built and swapped in whole.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from flightdeck.core.errors import InvalidRequest
from flightdeck.core.settings import SearchSettings
from flightdeck.mediastore.schema import Status
from flightdeck.mediastore.store import MANIFEST, MediaStore
from flightdeck.search.index import Ids, Matrix, VectorIndex

COLUMNS = [
    "doc_id",
    "source",
    "kind",
    "caption",
    "metadata",
    "status",
    "width",
    "height",
    "duplicate_of",
    "thumbnail_format",
    "text_embedding",
    "image_embedding",
]
EMBEDDINGS = {"text": "text_embedding", "image": "image_embedding"}


def manifest_digest(media: MediaStore) -> str:
    """SHA-256 of the manifest file's bytes: it changes whenever a shard is added or replaced."""
    return hashlib.sha256(media.fs.cat_file(f"{media.root}/{MANIFEST}")).hexdigest()


@dataclass(frozen=True)
class EmbeddingIndex:
    """An index over one embedding column; ``documents[i]`` is the document of index id ``i``."""

    index: VectorIndex
    documents: Ids


@dataclass
class Documents:
    """Searchable documents, column-wise; a document's position is its number everywhere."""

    doc_id: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    caption: list[str | None] = field(default_factory=list)
    metadata_json: list[str | None] = field(default_factory=list)
    width: list[int | None] = field(default_factory=list)
    height: list[int | None] = field(default_factory=list)
    thumbnail_format: list[str | None] = field(default_factory=list)
    shard: list[str] = field(default_factory=list)
    row: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.doc_id)

    @functools.cached_property
    def metadata(self) -> list[dict[str, Any]]:
        """Parsed metadata of every document (parsed once, on the first filter or hit)."""
        return [_parse_metadata(raw) for raw in self.metadata_json]


@dataclass
class Snapshot:
    """One manifest version of a store, ready to search."""

    store: MediaStore
    digest: str
    documents: Documents
    position: dict[str, int]
    duplicates: dict[str, list[tuple[str, str]]]
    indexes: dict[str, EmbeddingIndex]
    status_counts: dict[str, int]


def _parse_metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _vectors(column: pa.ChunkedArray, keep: pa.Array) -> tuple[Matrix, Ids]:
    """Rows of a list<float32> column where ``keep`` and the value is present, as a matrix."""
    array = column.combine_chunks()
    mask = pc.and_(keep, array.is_valid())
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    chosen = array.filter(mask)
    if len(chosen) == 0:
        return np.empty((0, 0), np.float32), rows.astype(np.int64)
    lengths = pc.list_value_length(chosen).to_numpy(zero_copy_only=False)
    if lengths.min() != lengths.max() or lengths[0] == 0:
        raise InvalidRequest("the store mixes embeddings of different sizes in one column")
    flat = chosen.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(len(chosen), int(lengths[0])), rows.astype(np.int64)


def build_snapshot(media: MediaStore, digest: str, settings: SearchSettings) -> Snapshot:
    """Read every shard once (never the thumbnails) and build the indexes."""
    docs = Documents()
    duplicates: dict[str, list[tuple[str, str]]] = {}
    counts: Counter[str] = Counter()
    parts: dict[str, list[tuple[Matrix, Ids]]] = {name: [] for name in EMBEDDINGS}
    for shard in sorted(media.shards):
        table = media.read_shard(shard, COLUMNS)
        status = table["status"].to_pylist()
        counts.update(status)
        ok = pc.equal(table["status"].combine_chunks(), Status.OK.value)
        ok_rows = [i for i, s in enumerate(status) if s == Status.OK.value]
        first = len(docs)
        columns = {c: table[c].to_pylist() for c in COLUMNS[:10]}
        for i in ok_rows:
            docs.doc_id.append(columns["doc_id"][i])
            docs.source.append(columns["source"][i])
            docs.kind.append(columns["kind"][i])
            docs.caption.append(columns["caption"][i])
            docs.metadata_json.append(columns["metadata"][i])
            docs.width.append(columns["width"][i])
            docs.height.append(columns["height"][i])
            docs.thumbnail_format.append(columns["thumbnail_format"][i])
            docs.shard.append(shard)
            docs.row.append(i)
        for i, s in enumerate(status):
            if s == Status.DUPLICATE.value and columns["duplicate_of"][i]:
                linked = duplicates.setdefault(columns["duplicate_of"][i], [])
                linked.append((columns["doc_id"][i], columns["source"][i]))
        # Row numbers within the shard -> document positions (ok rows are numbered in order).
        to_position = np.full(len(status), -1, np.int64)
        to_position[ok_rows] = np.arange(first, first + len(ok_rows))
        for name, column in EMBEDDINGS.items():
            matrix, rows = _vectors(table[column], ok)
            if len(rows):
                parts[name].append((matrix, to_position[rows]))
    indexes = {}
    for name, chunks in parts.items():
        if not chunks:
            continue
        if len({m.shape[1] for m, _ in chunks}) > 1:
            raise InvalidRequest(f"the store's {EMBEDDINGS[name]} sizes differ between shards")
        matrix = np.concatenate([m for m, _ in chunks])
        positions = np.concatenate([p for _, p in chunks])
        indexes[name] = EmbeddingIndex(VectorIndex(matrix, settings), positions)
    position = {doc_id: i for i, doc_id in enumerate(docs.doc_id)}
    return Snapshot(media, digest, docs, position, duplicates, indexes, dict(counts))
