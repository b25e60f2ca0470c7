"""Bucket ranges, variation choice and namespaces, as GrowthBook's SDKs define them.

Source: GrowthBook's SDK specification (``getBucketRanges``, ``chooseVariation``,
``inNamespace``, ``getEqualWeights`` in ``packages/sdk-js/src/util.ts``), verified against its
cross-SDK ``cases.json``. Each variation ``i`` owns ``[c_i, c_i + coverage * w_i)`` where
``c_i`` is the sum of the weights before it: growing ``coverage`` only extends every range, so
a unit already in the experiment keeps its variation (sticky as coverage grows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from flightdeck.experiments.hashing import gb_hash

Range = tuple[float, float]
WEIGHT_SUM_MIN = 0.99
WEIGHT_SUM_MAX = 1.01


@dataclass(frozen=True, slots=True)
class Namespace:
    """A slice ``[start, end)`` of a layer: units hash (v1, seed ``"__" + layer``) into [0, 1)
    once per layer, and experiments whose slices of one layer do not overlap never share a
    unit. GrowthBook calls the layer a namespace."""

    layer: str
    start: float
    end: float

    def overlaps(self, other: Namespace) -> bool:
        """Whether both slices are in the same layer and share part of [0, 1)."""
        return self.layer == other.layer and self.start < other.end and other.start < self.end


def equal_weights(count: int) -> list[float]:
    """``count`` equal weights summing to 1 (``[]`` for ``count < 1``)."""
    if count < 1:
        return []
    return [1 / count] * count


def valid_weights(weights: Sequence[float] | None, count: int) -> bool:
    """Whether ``weights`` has one finite non-negative weight per variation, summing to
    within [0.99, 1.01] (GrowthBook replaces anything else by equal weights)."""
    if weights is None or len(weights) != count:
        return False
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        return False
    return WEIGHT_SUM_MIN <= sum(weights) <= WEIGHT_SUM_MAX


def bucket_ranges(
    count: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[Range]:
    """The ``[start, end)`` range of each of ``count`` variations. ``coverage`` is clamped to
    [0, 1]; invalid ``weights`` (see :func:`valid_weights`) become equal weights."""
    coverage = min(max(coverage, 0.0), 1.0)
    used = list(weights) if weights is not None and valid_weights(weights, count) else None
    cumulative = 0.0
    ranges: list[Range] = []
    for weight in used if used is not None else equal_weights(count):
        start = cumulative
        cumulative += weight
        ranges.append((start, start + coverage * weight))
    return ranges


def choose_variation(bucket: float, ranges: Sequence[Range]) -> int:
    """Index of the first range holding ``bucket``, or -1 when none does (not in the test)."""
    for index, (start, end) in enumerate(ranges):
        if start <= bucket < end:
            return index
    return -1


def in_namespace(unit: str, namespace: Namespace) -> bool:
    """Whether ``unit`` falls in the namespace's slice of its layer."""
    bucket = gb_hash("__" + namespace.layer, unit, 1)
    return bucket is not None and namespace.start <= bucket < namespace.end
