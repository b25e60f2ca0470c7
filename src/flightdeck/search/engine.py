"""Search over one store: encode the query, search each index, fuse, hydrate.

With one index (caption embeddings), a hit's ``score`` is its cosine similarity. With two
(captions and CLIP images, when ``[search] clip_model`` is set and the store has CLIP image
embeddings of the same size), each index is searched deeper and the lists are fused by
reciprocal rank fusion (score = sum of 1 / (60 + rank)); each signal's cosine is kept in
``scores``. Documents without a caption are found only through CLIP.

A relevance floor (``min_score``) drops hits whose best cosine (over their signals) is below it,
so a query that matches nothing answers nothing instead of the k least bad documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flightdeck.core.settings import SearchSettings
from flightdeck.search.cache import SnapshotCache, Thumbnail, ThumbnailCache
from flightdeck.search.encoders import QueryEncoder
from flightdeck.search.query import SearchQuery
from flightdeck.search.snapshot import Snapshot
from flightdeck.telemetry.stages import Stage, no_stage

RRF_K = 60
FUSION_DEPTH = 50


@dataclass
class Hit:
    """One search result: the document's position in the snapshot and its scores."""

    position: int
    score: float
    scores: dict[str, float]


class SearchEngine:
    """Everything search keeps in process: encoders, snapshots, thumbnail columns."""

    def __init__(
        self,
        settings: SearchSettings,
        roots: Sequence[str],
        encoder: QueryEncoder | None = None,
    ) -> None:
        self.settings = settings
        self.snapshots = SnapshotCache(settings, roots)
        self.thumbnails = ThumbnailCache(settings.thumbnail_cache_bytes)
        self.encoder = encoder or QueryEncoder(settings.clip_model)
        self.stage: Stage = no_stage  # telemetry: search.encode, search.ann

    async def search(self, uri: str, query: SearchQuery) -> tuple[Snapshot, list[Hit]]:
        snapshot = await self.snapshots.get(uri)
        wanted = set(snapshot.indexes)
        if not self.settings.clip_model:
            wanted.discard("image")
        with self.stage("search.encode"):
            vectors = await self.encoder.encode(query.query, wanted)
        usable = {
            name: vector
            for name, vector in vectors.items()
            if vector.shape[1] == snapshot.indexes[name].index.dimensions
        }
        allowed = query.filter.mask(snapshot.documents) if query.filter else None
        depth = query.k if len(usable) == 1 else max(query.k, FUSION_DEPTH)
        ranked: dict[str, list[tuple[int, float]]] = {}
        with self.stage("search.ann"):
            for name, vector in usable.items():
                embedded = snapshot.indexes[name]
                ids = None
                if allowed is not None:
                    ids = np.flatnonzero(allowed[embedded.documents]).astype(np.int64)
                found = embedded.index.search(vector, depth, ids)
                ranked[name] = [
                    (int(embedded.documents[i]), float(s))
                    for i, s in zip(found.ids, found.scores, strict=True)
                ]
        floor = self.min_score(query)
        kept = [hit for hit in fuse(ranked) if max(hit.scores.values()) >= floor]
        return snapshot, kept[: query.k]

    def min_score(self, query: SearchQuery) -> float:
        """The relevance floor of ``query``: its own, or the deployment's."""
        return self.settings.min_score if query.min_score is None else query.min_score

    async def thumbnail(self, uri: str, doc_id: str) -> Thumbnail:
        snapshot = await self.snapshots.get(uri)
        return await self.thumbnails.get(snapshot, doc_id)

    def close(self) -> None:
        self.encoder.close()


def fuse(ranked: dict[str, list[tuple[int, float]]]) -> list[Hit]:
    """One list: the cosine order for a single signal, reciprocal rank fusion for several."""
    if len(ranked) == 1:
        ((name, hits),) = ranked.items()
        return [Hit(p, s, {name: s}) for p, s in hits]
    merged: dict[int, Hit] = {}
    for name, hits in ranked.items():
        for rank, (position, cosine) in enumerate(hits):
            hit = merged.setdefault(position, Hit(position, 0.0, {}))
            hit.score += 1.0 / (RRF_K + rank + 1)
            hit.scores[name] = cosine
    return sorted(merged.values(), key=lambda h: (-h.score, h.position))


def hydrate(
    snapshot: Snapshot,
    hits: list[Hit],
    thumbnail_base: str,
    source: Callable[[str], str] = str,
) -> list[dict[str, Any]]:
    """Hits as the API answers them; ``thumbnail_base`` is the collection's documents URL and
    ``source`` turns a stored source into what the caller may see."""
    docs = snapshot.documents
    out = []
    for hit in hits:
        p = hit.position
        doc_id = docs.doc_id[p]
        out.append(
            {
                "doc_id": doc_id,
                "score": round(hit.score, 6),
                "scores": {k: round(v, 6) for k, v in hit.scores.items()},
                "source": source(docs.source[p]),
                "kind": docs.kind[p],
                "caption": docs.caption[p],
                "metadata": docs.metadata[p],
                "width": docs.width[p],
                "height": docs.height[p],
                "thumbnail_url": (
                    f"{thumbnail_base}/{doc_id}/thumbnail" if docs.thumbnail_format[p] else None
                ),
                "duplicates": [
                    {"doc_id": d, "source": source(s)}
                    for d, s in snapshot.duplicates.get(doc_id, [])
                ],
            }
        )
    return out
