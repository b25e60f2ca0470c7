"""Sample ratio mismatch: do the units per variant match the configured weights?

A mismatch means assignment or exposure logging is broken, and every other result of the
experiment is suspect. Pearson's chi-square goodness-of-fit test of the counts against
``total * weight``, flagged at ``p < 0.001`` as GrowthBook and Optimizely do (Fabijan et al.,
"Diagnosing Sample Ratio Mismatch in Online Controlled Experiments", KDD 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as sps

from flightdeck.experiments.errors import ExperimentError

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class SampleRatio:
    """The check's outcome: ``chi2`` statistic, its ``p_value``, ``flagged`` when below the
    threshold, and the ``expected`` units per variant."""

    chi2: float
    p_value: float
    flagged: bool
    expected: tuple[float, ...]


def sample_ratio_check(
    counts: Sequence[int], weights: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SampleRatio:
    """Check units per variant (``counts``) against ``weights`` (any positive scale).

    Raises :class:`ExperimentError` when the lengths differ, a weight is not positive or a
    count is negative."""
    if len(counts) != len(weights) or len(counts) < 2:
        raise ExperimentError("counts and weights: one of each per variant, at least two")
    if any(w <= 0 for w in weights) or any(c < 0 for c in counts):
        raise ExperimentError("weights must be positive and counts non-negative")
    total = sum(counts)
    scale = sum(weights)
    expected = tuple(total * w / scale for w in weights)
    if total == 0:
        return SampleRatio(0.0, 1.0, False, expected)
    result = sps.chisquare(list(counts), list(expected))
    p_value = float(result.pvalue)
    return SampleRatio(float(result.statistic), p_value, p_value < threshold, expected)
