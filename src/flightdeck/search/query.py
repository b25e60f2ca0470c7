"""The body of ``POST /v1/search``, validated: collection, query, k, an optional relevance floor
(``min_score``, a cosine from -1 to 1; default ``[search] min_score``) and an optional filter.

A filter narrows the candidates before ranking (exactly, not by dropping hits afterwards)::

    {"kind": "image" | ["image", "keyframe"],
     "metadata": {"license": "cc0", "year": [2023, 2024]}}

Metadata values match by equality; a list means any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flightdeck.core.errors import InvalidRequest
from flightdeck.search.snapshot import Documents

MAX_K = 100
MAX_QUERY_CHARS = 2000
Scalar = str | int | float | bool


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a search may return: kinds and metadata equality."""

    kinds: frozenset[str] | None = None
    metadata: dict[str, tuple[Scalar, ...]] = field(default_factory=dict)

    def mask(self, docs: Documents) -> NDArray[np.bool_]:
        """Which documents pass, as a boolean array over document positions."""
        keep = np.ones(len(docs), dtype=bool)
        if self.kinds is not None:
            keep &= np.fromiter((k in self.kinds for k in docs.kind), bool, len(docs))
        for key, values in self.metadata.items():
            keep &= np.fromiter(
                (_matches(m.get(key), values) for m in docs.metadata), bool, len(docs)
            )
        return keep


def _matches(value: Any, values: tuple[Scalar, ...]) -> bool:
    # bool is an int in Python: compare types too, so true never matches 1.
    return any(type(value) is type(v) and value == v for v in values)


@dataclass(frozen=True)
class SearchQuery:
    """A search request, parsed and bounded."""

    collection: str
    query: str
    k: int = 10
    filter: DocumentFilter | None = None
    min_score: float | None = None  # None: the deployment's [search] min_score


def _scalars(value: Any, param: str) -> tuple[Scalar, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str | int | float | bool) for v in items):
        raise InvalidRequest(
            f"'{param}' must be a string, number or boolean, or a non-empty list of them",
            param=param,
        )
    return tuple(items)


def parse_filter(value: Any) -> DocumentFilter | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("'filter' must be an object", param="filter")
    unknown = set(value) - {"kind", "metadata"}
    if unknown:
        raise InvalidRequest(
            f"'filter' has unknown keys {sorted(unknown)}; use 'kind' and 'metadata'",
            param="filter",
        )
    kinds = None
    if "kind" in value:
        raw = _scalars(value["kind"], "filter.kind")
        if not all(isinstance(k, str) for k in raw):
            raise InvalidRequest("'filter.kind' must name kinds", param="filter.kind")
        kinds = frozenset(str(k) for k in raw)
    metadata = value.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InvalidRequest("'filter.metadata' must be an object", param="filter.metadata")
    return DocumentFilter(
        kinds, {str(k): _scalars(v, f"filter.metadata.{k}") for k, v in metadata.items()}
    )


def parse_search(body: dict[str, Any]) -> SearchQuery:
    collection = body.get("collection")
    if not isinstance(collection, str) or not collection:
        raise InvalidRequest("'collection' must be a collection name", param="collection")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("'query' must be a non-empty string", param="query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"'query' is longer than {MAX_QUERY_CHARS} characters", param="query")
    k = body.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidRequest(f"'k' must be an integer from 1 to {MAX_K}", param="k")
    min_score = body.get("min_score")
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not -1 <= min_score <= 1
    ):
        raise InvalidRequest("'min_score' must be a number from -1 to 1", param="min_score")
    return SearchQuery(
        collection,
        query,
        k,
        parse_filter(body.get("filter")),
        None if min_score is None else float(min_score),
    )
