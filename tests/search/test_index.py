"""The FAISS index: exact up to the threshold, HNSW above it, filters as exact ID selectors."""

from __future__ import annotations

import numpy as np
import pytest

from flightdeck.core.settings import SearchSettings
from flightdeck.search.index import VectorIndex


def unit_vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize(("size", "kind"), [(100, "flat"), (101, "hnsw")])
def test_threshold_picks_the_index_and_both_find_the_nearest(size: int, kind: str) -> None:
    vectors = unit_vectors(size)
    index = VectorIndex(vectors, SearchSettings(exact_max_documents=100, hnsw_m=8))
    assert index.kind == kind
    for i in (0, 7, size - 1):
        found = index.search(vectors[i], 3)
        assert found.ids[0] == i and found.scores[0] == pytest.approx(1.0, abs=1e-5)
        assert list(found.scores) == sorted(found.scores, reverse=True)


@pytest.mark.parametrize("size", [50, 500])
def test_filters_return_only_allowed_ids_ranked_exactly(size: int) -> None:
    vectors = unit_vectors(size)
    index = VectorIndex(vectors, SearchSettings(exact_max_documents=100, hnsw_m=8))
    allowed = np.arange(1, size, 7, dtype=np.int64)
    found = index.search(vectors[0], 5, allowed)
    expected = allowed[np.argsort(-(vectors[allowed] @ vectors[0]))[:5]]
    assert list(found.ids) == list(expected)
    assert len(index.search(vectors[0], 5, np.empty(0, np.int64)).ids) == 0


def test_k_larger_than_the_index_returns_everything_once() -> None:
    index = VectorIndex(unit_vectors(4), SearchSettings())
    found = index.search(unit_vectors(1, seed=9)[0], 100)
    assert sorted(found.ids) == [0, 1, 2, 3]


def test_hnsw_with_a_wide_filter_searches_the_graph_within_it() -> None:
    vectors = unit_vectors(500)
    index = VectorIndex(vectors, SearchSettings(exact_max_documents=100, hnsw_m=8))
    allowed = np.arange(0, 500, 2, dtype=np.int64)  # 250 ids: more than the exact limit
    found = index.search(vectors[10], 5, allowed)
    assert found.ids[0] == 10 and set(found.ids) <= set(allowed.tolist())
    assert len(found.ids) == 5
