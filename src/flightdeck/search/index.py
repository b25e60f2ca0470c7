"""One FAISS index over one embedding column: exact for small stores, HNSW for large ones.

Vectors are L2-normalised by the pipeline, so inner product is cosine similarity. An exact
``IndexFlatIP`` answers perfectly and is fast enough up to ``exact_max_documents`` (a scan of
20,000 x 384 floats is a few milliseconds); above that an ``IndexHNSWFlat`` answers in
logarithmic time with a small recall loss. A filter restricts the search to allowed ids; on
HNSW a filter that leaves few ids is answered exactly instead, because a graph walk restricted
to a handful of nodes can miss them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.errors import ConfigError
from flightdeck.core.settings import SearchSettings

Matrix = NDArray[np.float32]
Ids = NDArray[np.int64]
INSTALL_HINT = "pip install 'flightdeck[local]'"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ConfigError(f"search indexes need FAISS: {INSTALL_HINT}") from exc
    return faiss


@dataclass(frozen=True)
class Neighbours:
    """Index ids (positions of the vectors as added) and their cosine scores, best first."""

    ids: Ids
    scores: NDArray[np.float32]


class VectorIndex:
    """Vectors of one column; ids are their positions in the matrix it was built from."""

    def __init__(self, vectors: Matrix, settings: SearchSettings) -> None:
        faiss = _faiss()
        self.size, self.dimensions = vectors.shape
        self.exact = self.size <= settings.exact_max_documents
        self.exact_limit = settings.exact_max_documents
        self.ef_search = settings.hnsw_ef_search
        if self.exact:
            self.index = faiss.IndexFlatIP(self.dimensions)
        else:
            self.index = faiss.IndexHNSWFlat(
                self.dimensions, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT
            )
            self.index.hnsw.efConstruction = max(40, 2 * settings.hnsw_m)
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @property
    def kind(self) -> str:
        return "flat" if self.exact else "hnsw"

    def search(self, query: Matrix, k: int, allowed: Ids | None = None) -> Neighbours:
        """The ``k`` nearest vectors to ``query`` (1 x d), only among ``allowed`` ids if given."""
        faiss = _faiss()
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is not None and len(allowed) == 0:
            return Neighbours(np.empty(0, np.int64), np.empty(0, np.float32))
        params = None
        if allowed is not None:
            if not self.exact and len(allowed) <= self.exact_limit:
                return self._exact_subset(query, k, allowed)
            selector = faiss.IDSelectorBatch(allowed)
            params = (
                faiss.SearchParameters(sel=selector)
                if self.exact
                else faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, k))
            )
        elif not self.exact:
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        scores, ids = self.index.search(query, min(k, self.size), params=params)
        keep = ids[0] >= 0
        return Neighbours(ids[0][keep].astype(np.int64), scores[0][keep])

    def _exact_subset(self, query: Matrix, k: int, allowed: Ids) -> Neighbours:
        vectors = self.index.reconstruct_batch(allowed)
        scores = vectors @ query[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return Neighbours(allowed[order].astype(np.int64), scores[order].astype(np.float32))
