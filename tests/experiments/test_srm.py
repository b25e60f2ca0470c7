"""Sample ratio mismatch over a million hashed units."""

from __future__ import annotations

import numpy as np
import pytest

from flightdeck.experiments import bucket_ranges, hash_many
from flightdeck.experiments.srm import sample_ratio_check

MILLION = [f"unit-{i}" for i in range(1_000_000)]


def _counts(seed: str, arms: int) -> list[int]:
    buckets = hash_many(seed, MILLION, 2)
    edges = [start for start, _ in bucket_ranges(arms)][1:]
    return np.bincount(np.searchsorted(edges, buckets, side="right"), minlength=arms).tolist()


@pytest.mark.parametrize("arms", [2, 3, 10])
def test_a_million_hashed_units_pass_the_check(arms: int) -> None:
    counts = _counts(f"srm-{arms}", arms)
    result = sample_ratio_check(counts, [1.0] * arms)
    print(f"{arms} arms: {counts} p={result.p_value:.3f}")
    assert sum(counts) == 1_000_000
    assert not result.flagged


def test_a_one_percent_imbalance_at_a_million_units_is_flagged() -> None:
    control, treatment = _counts("srm-2", 2)
    moved = int(0.01 * treatment)  # 1% of the treatment's units lost, e.g. by an exposure bug
    result = sample_ratio_check([control, treatment - moved], [0.5, 0.5])
    assert result.flagged and result.p_value < 1e-6


def test_counts_matching_uneven_weights_pass() -> None:
    assert not sample_ratio_check([200_100, 799_900], [0.2, 0.8]).flagged
    assert sample_ratio_check([500_000, 500_000], [0.2, 0.8]).flagged
